"""``labmail serve --demo`` as a real process, used as a person would from its printout.

The test reads the printed account settings, trusts the printed lab CA path,
sends over submission (STARTTLS + AUTH) from an example.org user to an
example.com user, reads the message over IMAP with implicit TLS, and stops
the demo with SIGINT (Ctrl-C).
"""
from __future__ import annotations

import imaplib
import queue
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import Dict, List, Tuple

import pytest

from labmail.commands._demo import account_settings


class NamedIMAP4_SSL(imaplib.IMAP4_SSL):
    """IMAP over TLS to an address, verifying the certificate for a *name*
    (what a client does once /etc/hosts maps the name to the address)."""

    def __init__(self, name: str, ip: str, port: int, context: ssl.SSLContext) -> None:
        self._name = name
        super().__init__(ip, port, ssl_context=context, timeout=10)

    def _create_socket(self, timeout):  # noqa: ANN001 - imaplib's signature
        sock = socket.create_connection((self.host, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._name)


def parse_settings(text: str) -> Tuple[str, Dict[str, dict]]:
    """(CA path, {host: {"ip": .., "ports": {service: port}, "accounts": {user: password}}})."""
    ca = re.search(r"^lab CA to trust: (\S+)$", text, re.M).group(1)
    hosts: Dict[str, dict] = {}
    current: dict = {}
    for line in text.splitlines():
        m = re.match(r"^\[(\S+)\]\s+address (\S+)$", line)
        if m:
            current = hosts.setdefault(m.group(1), {"ip": m.group(2), "ports": {}, "accounts": {}})
            continue
        m = re.match(r"^\s+(\w+)\s+(\S+) port (\d+)\b", line)
        if m and current:
            current["ports"][m.group(1)] = int(m.group(3))
        m = re.match(r"^\s+account\s+\S+\s+user name (\S+)\s+password (\S+)$", line)
        if m and current:
            current["accounts"][m.group(1)] = m.group(2)
    return ca, hosts


def _start_demo(tmp_path) -> Tuple[subprocess.Popen, List[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "labmail", "serve", "--demo", "--ports", "auto",
                             "--state", str(tmp_path / "demo")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put("")
    threading.Thread(target=pump, daemon=True).start()
    out: List[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if not line:
            break
        out.append(line.rstrip("\n"))
        if line.strip() == "ready":
            return proc, out
    proc.kill()
    raise AssertionError(f"demo did not get ready: {out} {proc.stderr.read()[-2000:]}")


def test_serve_demo_settings_work_in_clients_and_ctrl_c_exits_cleanly(tmp_path):
    proc, out = _start_demo(tmp_path)
    try:
        text = "\n".join(out)
        ca, hosts = parse_settings(text)
        assert set(hosts) == {"mail.example.com", "mail.example.org"}
        for host in hosts.values():
            assert {"submission", "imap", "imaps", "pop3", "pop3s", "smtp"} <= set(host["ports"])
            assert len(host["accounts"]) >= 1
        assert f"{hosts['mail.example.com']['ip']}" in text.split("[mail.example.com]")[0]  # /etc/hosts
        context = ssl.create_default_context(cafile=ca)       # trusts the printed CA only
        com, org = hosts["mail.example.com"], hosts["mail.example.org"]
        (com_user, com_pw), = list(com["accounts"].items())[:1]
        (org_user, org_pw), = list(org["accounts"].items())[:1]

        with smtplib.SMTP(org["ip"], org["ports"]["submission"], timeout=10) as s:
            s._host = "mail.example.org"      # the name the certificate is checked against
            s.starttls(context=context)
            s.login(org_user, org_pw)
            s.sendmail(f"{org_user}@example.org", [f"{com_user}@example.com"],
                       f"From: {org_user}@example.org\r\nTo: {com_user}@example.com\r\n"
                       f"Subject: live demo\r\n\r\nHello from the demo.\r\n".encode())

        subjects: List[str] = []
        deadline = time.monotonic() + 20      # relayed org -> com, then procmail/spamc
        while time.monotonic() < deadline and "Subject: live demo" not in subjects:
            imap = NamedIMAP4_SSL("mail.example.com", com["ip"], com["ports"]["imaps"], context)
            try:
                imap.login(com_user, com_pw)
                imap.select("INBOX")
                _, data = imap.search(None, "ALL")
                subjects = []
                for num in data[0].split():
                    _, msg = imap.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-SPAM-FLAG)])")
                    header = msg[0][1].decode()
                    assert "X-Spam-Flag" not in header or "NO" in header.upper()
                    subjects += [h for h in header.splitlines() if h.startswith("Subject:")]
            finally:
                imap.logout()
            if "Subject: live demo" not in subjects:
                time.sleep(0.1)
        assert "Subject: live demo" in subjects

        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_demo_filters_spam_into_junk(tmp_path):
    """The demo's spam filtering, in process: GTUBE lands in .Junk via spamc and spamd."""
    from labmail.commands._demo import build_demo_lab
    lab = build_demo_lab(ports="auto", state_dir=tmp_path / "lab")
    try:
        com = lab.hosts["mail.example.com"]
        gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
        with smtplib.SMTP(*com.endpoints["smtp"], timeout=10) as s:
            s.sendmail("win@prizes.example.net", ["alice@example.com"],
                       f"Subject: prize\r\n\r\n{gtube}\r\n")
        junk = com.path("/home/alice/Maildir/.Junk/new")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (junk.is_dir() and any(junk.iterdir())):
            time.sleep(0.05)
        assert junk.is_dir() and len(list(junk.iterdir())) == 1
        assert "spamd[" in com.maillog.read()
        assert "lab CA to trust: " + str(lab.ca.root_path) in account_settings(lab)
    finally:
        lab.stop()


def test_demo_refuses_single_host_options():
    proc = subprocess.run([sys.executable, "-m", "labmail", "serve", "--demo", "--user", "x:y"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--demo" in proc.stderr



@pytest.mark.realtool
def test_demo_settings_work_in_curl(tmp_path):
    """A real client with the printed settings: curl submits over STARTTLS and lists IMAPS,
    trusting only the lab CA and resolving the host names as /etc/hosts would."""
    import shutil
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed; apt-get install curl")
    from labmail.commands._demo import build_demo_lab
    lab = build_demo_lab(ports="auto", state_dir=tmp_path / "lab")
    try:
        ca, hosts = parse_settings(account_settings(lab))
        com, org = hosts["mail.example.com"], hosts["mail.example.org"]
        mail = tmp_path / "mail.txt"
        mail.write_bytes(b"From: dave@example.org\r\nTo: carol@example.com\r\n"
                         b"Subject: via curl\r\n\r\nsent by curl\r\n")
        sub = org["ports"]["submission"]
        subprocess.run([curl, "-sS", "--max-time", "20", "--cacert", ca, "--ssl-reqd",
                        "--resolve", f"mail.example.org:{sub}:{org['ip']}",
                        f"smtp://mail.example.org:{sub}", "--user",
                        f"dave:{org['accounts']['dave']}", "--mail-from", "dave@example.org",
                        "--mail-rcpt", "carol@example.com", "--upload-file", str(mail)],
                       check=True, capture_output=True, timeout=30)
        imaps = com["ports"]["imaps"]
        listing = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "via curl" not in listing:
            listing = subprocess.run(
                [curl, "-sS", "--max-time", "20", "--cacert", ca,
                 "--resolve", f"mail.example.com:{imaps}:{com['ip']}",
                 f"imaps://mail.example.com:{imaps}/INBOX;UID=1;SECTION=HEADER.FIELDS%20(SUBJECT)",
                 "--user", f"carol:{com['accounts']['carol']}"],
                capture_output=True, text=True, timeout=30).stdout
            if "via curl" not in listing:
                time.sleep(0.1)
        assert "Subject: via curl" in listing
    finally:
        lab.stop()

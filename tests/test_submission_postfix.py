"""Differential test: STARTTLS and SMTP AUTH replies and log lines, lab vs real Postfix 3.7.

A private Postfix (its own config and queue directories, loopback ports only)
with Dovecot SASL (a private Dovecot serving only its auth socket and a
passwd-file) answers the same scripted dialogues as the lab; every reply
line except the greeting and EHLO's keyword list must be identical, and the
SASL warnings in both logs must read the same.  Needs root (Postfix's
master) and both daemons; skips otherwise.
"""
from __future__ import annotations

import base64
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import need_tool, wait_for

pytestmark = pytest.mark.realtool


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


OK = b64(b"\0alice\0secret")
BAD = b64(b"\0alice\0wrong")

#: (lab main.cf additions, Postfix master.cf -o options, implicit TLS, commands)
SCENARIOS = {
    "submission": ("", ["smtpd_tls_security_level=encrypt", "smtpd_sasl_auth_enable=yes",
                        "smtpd_tls_auth_only=yes"], False,
                   ["EHLO laptop", "MAIL FROM:<a@example.org>", f"AUTH PLAIN {OK}", "NOOP",
                    "RSET", "STARTTLS", "<TLS>", "EHLO laptop", f"AUTH PLAIN {BAD}",
                    f"AUTH PLAIN {OK}", f"AUTH PLAIN {OK}", "MAIL FROM:<a@example.org>",
                    "STARTTLS", "QUIT"]),
    "auth-only": ("smtpd_sasl_auth_enable = yes\nsmtpd_tls_auth_only = yes\n",
                  ["smtpd_sasl_auth_enable=yes", "smtpd_tls_auth_only=yes"], False,
                  ["EHLO laptop", f"AUTH PLAIN {OK}", "STARTTLS", "<TLS>", "EHLO laptop",
                   "AUTH LOGIN", b64(b"alice"), "*", "AUTH FOO", "AUTH", "AUTH PLAIN !!!",
                   "AUTH PLAIN =", "AUTH LOGIN " + b64(b"bob"), b64(b"x"), "AUTH PLAIN",
                   OK, "QUIT"]),
    "smtps": ("", ["smtpd_tls_wrappermode=yes", "smtpd_sasl_auth_enable=yes"], True,
              ["EHLO laptop", "STARTTLS", f"AUTH PLAIN {OK}", "QUIT"]),
    "cleartext": ("smtpd_tls_security_level = none\nsmtpd_sasl_auth_enable = yes\n",
                  ["smtpd_tls_security_level=none", "smtpd_sasl_auth_enable=yes"], False,
                  ["HELO laptop", "STARTTLS", f"AUTH PLAIN {OK}", "AUTH",
                   "MAIL FROM:<a@example.org>", f"AUTH PLAIN {OK}", "RSET", "AUTH FOO", "QUIT"]),
}


#: the internal services a private Postfix needs (not chrooted: its queue is elsewhere)
MASTER_SERVICES = [
    ("pickup", "unix", "n", "60", "1", "pickup"), ("cleanup", "unix", "n", "-", "0", "cleanup"),
    ("qmgr", "unix", "n", "300", "1", "qmgr"), ("tlsmgr", "unix", "-", "1000?", "1", "tlsmgr"),
    ("rewrite", "unix", "-", "-", "-", "trivial-rewrite"),
    ("bounce", "unix", "-", "-", "0", "bounce"), ("defer", "unix", "-", "-", "0", "bounce"),
    ("trace", "unix", "-", "-", "0", "bounce"), ("verify", "unix", "-", "-", "1", "verify"),
    ("flush", "unix", "n", "1000?", "0", "flush"), ("proxymap", "unix", "-", "-", "-", "proxymap"),
    ("smtp", "unix", "-", "-", "-", "smtp"), ("relay", "unix", "-", "-", "-", "smtp"),
    ("showq", "unix", "n", "-", "-", "showq"), ("error", "unix", "-", "-", "-", "error"),
    ("retry", "unix", "-", "-", "-", "error"), ("discard", "unix", "-", "-", "-", "discard"),
    ("local", "unix", "-", "-", "-", "local"), ("anvil", "unix", "-", "-", "1", "anvil"),
    ("scache", "unix", "-", "-", "1", "scache"), ("postlog", "unix-dgram", "n", "-", "1", "postlogd"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def talk(addr, commands, implicit=False):
    """The last line of each reply after the greeting (EHLO's lists are not compared)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    sock = socket.create_connection(addr, timeout=10)
    if implicit:
        sock = ctx.wrap_socket(sock)
    f = sock.makefile("rb")

    def reply():
        for _ in range(50):
            line = f.readline().decode().rstrip("\r\n")
            if len(line) < 4 or line[3] != "-":
                return line
    out = []
    reply()
    try:
        for command in commands:
            if command == "<TLS>":
                f.close()
                sock = ctx.wrap_socket(sock)
                f = sock.makefile("rb")
                continue
            sock.sendall(command.encode() + b"\r\n")
            line = reply()
            out.append((command, "250 <ehlo>" if command.startswith(("EHLO", "HELO"))
                        and line.startswith("250") else line))
    finally:
        f.close()
        sock.close()
    return out


@pytest.fixture(scope="module")
def postfix():
    postfix_bin, dovecot_bin = need_tool("postfix"), need_tool("dovecot")
    if os.geteuid() != 0:
        pytest.skip("a private Postfix needs root for its master process")
    # not under pytest's tmp (mode 0700): Postfix's own user must reach its data directory
    root = Path(tempfile.mkdtemp(prefix="labmail-pfsasl-"))
    root.chmod(0o755)
    conf, dv = root / "conf", root / "dv"
    for d in (conf, root / "spool", root / "data", dv / "run", dv / "state"):
        d.mkdir(parents=True)
    shutil.chown(root / "data", "postfix")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mail.example.com", "-keyout", str(root / "key.pem"),
                    "-out", str(root / "cert.pem")], check=True, capture_output=True)
    (dv / "users").write_text("alice:{PLAIN}secret\n")
    (dv / "dovecot.conf").write_text(f"""base_dir = {dv}/run
state_dir = {dv}/state
log_path = {dv}/dovecot.log
protocols =
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dv}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
service auth {{
  unix_listener {root}/auth {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
""")
    ports = {name: _free_port() for name in SCENARIOS}
    services = [f"{name}\t{kind}\t{private}\t-\tn\t{wake}\t{limit}\t{cmd}" for name, kind, private,
                wake, limit, cmd in MASTER_SERVICES]
    lines = []
    for name, (_lab, options, _implicit, _cmds) in SCENARIOS.items():
        lines.append(f"127.0.0.1:{ports[name]} inet n - n - - smtpd")
        lines += [f"  -o syslog_name=postfix/{name}"] + [f"  -o {o}" for o in options]
    (conf / "master.cf").write_text("\n".join(services + lines) + "\n")
    (conf / "main.cf").write_text(f"""compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
myhostname = mail.example.com
mydestination = $myhostname, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.2/32
relayhost = [127.0.0.1]:9
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
alias_maps =
alias_database =
smtpd_tls_cert_file = {root}/cert.pem
smtpd_tls_key_file = {root}/key.pem
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = {root}/auth
""")
    subprocess.run([dovecot_bin, "-c", str(dv / "dovecot.conf")], check=True)
    started = subprocess.run([postfix_bin, "-c", str(conf), "start"], capture_output=True, text=True)
    try:
        if started.returncode != 0:
            pytest.skip(f"private Postfix did not start: {(started.stdout + started.stderr)[-300:]}")
        for port in ports.values():
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
        yield {"ports": ports, "maillog": root / "maillog"}
    finally:
        subprocess.run([postfix_bin, "-c", str(conf), "stop"], capture_output=True)
        subprocess.run(["doveadm", "-c", str(dv / "dovecot.conf"), "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_replies_match_postfix(postfix, lab, name):
    extra, _options, implicit, commands = SCENARIOS[name]
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    if extra:
        cf = host.path("/etc/postfix/main.cf")
        cf.write_text(cf.read_text() + extra)
        host.reload()
    lab.start()
    service = {"submission": "submission", "smtps": "smtps"}.get(name, "smtp")
    ours = talk(host.endpoints[service], commands, implicit)
    theirs = talk(("127.0.0.1", postfix["ports"][name]), commands, implicit)
    assert ours == theirs


def test_sasl_log_lines_match_postfix(postfix, lab):
    host = lab.add_host("mail.example.com", users={"alice": "secret"})
    cf = host.path("/etc/postfix/main.cf")
    cf.write_text(cf.read_text() + SCENARIOS["auth-only"][0])
    host.reload()
    lab.start()
    talk(host.endpoints["smtp"], SCENARIOS["auth-only"][3])
    talk(("127.0.0.1", postfix["ports"]["auth-only"]), SCENARIOS["auth-only"][3])

    def warnings(text):
        return [ln.split("]: ", 1)[1] for ln in text.splitlines() if "SASL" in ln]
    assert wait_for(lambda: len(warnings(postfix["maillog"].read_text())) >= 5)
    real = [w for w in warnings(postfix["maillog"].read_text())
            if "localhost[127.0.0.1]" in w][-5:]
    assert warnings(host.maillog.read()) == real

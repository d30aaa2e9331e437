"""Real TLS clients against the lab: swaks, curl, openssl s_client, posttls-finger.

Each test skips when its tool is absent (apt-get install swaks curl openssl postfix).
The lab's names exist only in the lab's DNS, so the tools are pointed at the
host's address while checking its name (curl --resolve, openssl -verify_hostname).
"""
from __future__ import annotations

import subprocess

import pytest

from conftest import need_tool, wait_for

pytestmark = pytest.mark.realtool

MSG = "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: real client\r\n\r\nHi\r\n"


def run(args, *, input=None, timeout=30):
    return subprocess.run(args, input=input, capture_output=True, text=True, timeout=timeout)


def _got_mail(host, n=1):
    host.settle()
    return wait_for(lambda: len(host.mailbox("bob")) >= n)


# -- swaks --------------------------------------------------------------------------
def test_swaks_starttls_on_port_25(host, lab):
    swaks = need_tool("swaks")
    ip, port = host.endpoints["smtp"]
    r = run([swaks, "--server", ip, "--port", str(port), "--tls", "--tls-verify",
             "--tls-ca-path", str(lab.ca.root_path), "--tls-sni", host.hostname,
             "--ehlo", "laptop", "--from", "alice@example.com", "--to", "bob@example.com"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<-  220 2.0.0 Ready to start TLS" in r.stdout
    assert "=== TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384" in r.stdout
    assert "<~  250 2.0.0 Ok: queued as" in r.stdout
    assert _got_mail(host)


def test_swaks_submission_auth_after_starttls(host, lab):
    swaks = need_tool("swaks")
    ip, port = host.endpoints["submission"]
    base = [swaks, "--server", ip, "--port", str(port), "--ehlo", "laptop",
            "--from", "alice@example.com", "--to", "carol@example.org",
            "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "secret"]
    plain = run(base)
    assert plain.returncode != 0          # no AUTH offered before TLS: nothing sent in clear
    assert "Host did not advertise authentication" in plain.stderr
    r = run(base + ["--tls"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  235 2.7.0 Authentication successful" in r.stdout
    assert wait_for(lambda: "sasl_method=PLAIN, sasl_username=alice" in host.maillog.read())


def test_swaks_tls_on_connect_auth_login(host, lab):
    swaks = need_tool("swaks")
    ip, port = host.endpoints["smtps"]
    r = run([swaks, "--server", ip, "--port", str(port), "--tls-on-connect", "--ehlo", "laptop",
             "--from", "alice@example.com", "--to", "bob@example.com",
             "--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "secret"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<~  334 VXNlcm5hbWU6" in r.stdout and "<~  235 2.7.0" in r.stdout
    assert _got_mail(host)


def test_swaks_wrong_password(host, lab):
    swaks = need_tool("swaks")
    ip, port = host.endpoints["smtps"]
    r = run([swaks, "--server", ip, "--port", str(port), "--tlsc", "--ehlo", "laptop",
             "--to", "bob@example.com", "--auth", "PLAIN", "--auth-user", "alice",
             "--auth-password", "nope"])
    assert r.returncode != 0
    assert "535 5.7.8 Error: authentication failed: (reason unavailable)" in r.stdout


# -- curl --------------------------------------------------------------------------------
def _curl(curl, host, lab, scheme, service, *extra, name=None):
    ip, port = host.endpoints[service]
    name = name or host.hostname
    return run([curl, "-sS", "--max-time", "20", "--resolve", f"{name}:{port}:{ip}",
                "--cacert", str(lab.ca.root_path), *extra, f"{scheme}://{name}:{port}/"],
               input=MSG)


def test_curl_ssl_reqd_smtp_submission_with_login(host, lab):
    curl = need_tool("curl")
    r = _curl(curl, host, lab, "smtp", "submission", "--ssl-reqd", "-u", "alice:secret",
              "--mail-from", "alice@example.com", "--mail-rcpt", "bob@example.com",
              "--upload-file", "-")
    assert r.returncode == 0, r.stderr
    assert _got_mail(host)
    assert "with ESMTPSA id" in next(iter(host.mailbox("bob")))["Received"]


def test_curl_smtps_and_a_wrong_name(host, lab):
    curl = need_tool("curl")
    r = _curl(curl, host, lab, "smtps", "smtps", "-u", "alice:secret",
              "--mail-from", "alice@example.com", "--mail-rcpt", "bob@example.com",
              "--upload-file", "-")
    assert r.returncode == 0, r.stderr
    bad = _curl(curl, host, lab, "smtps", "smtps", "--mail-rcpt", "bob@example.com",
                "--upload-file", "-", name="other.example.net")
    assert bad.returncode == 60, bad.stderr         # CURLE_PEER_FAILED_VERIFICATION


def test_curl_without_the_lab_ca_refuses(host, lab):
    curl = need_tool("curl")
    ip, port = host.endpoints["submission"]
    r = run([curl, "-sS", "--max-time", "20", "--resolve", f"{host.hostname}:{port}:{ip}",
             "--ssl-reqd", "--mail-rcpt", "bob@example.com", "--upload-file", "-",
             f"smtp://{host.hostname}:{port}/"], input=MSG)
    assert r.returncode == 60, r.stderr
    assert "certificate" in r.stderr


def test_curl_pop3_and_imap_with_ssl_reqd(host, lab):
    curl = need_tool("curl")
    with __import__("smtplib").SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    host.settle()
    pop = _curl(curl, host, lab, "pop3", "pop3", "--ssl-reqd", "-u", "alice:secret")
    assert pop.returncode == 0 and pop.stdout.startswith("1 "), pop.stderr
    pops = _curl(curl, host, lab, "pop3s", "pop3s", "-u", "alice:secret")
    assert pops.returncode == 0, pops.stderr
    imap = _curl(curl, host, lab, "imap", "imap", "--ssl-reqd", "-u", "alice:secret")
    assert imap.returncode == 0 and "INBOX" in imap.stdout, imap.stderr
    imaps = _curl(curl, host, lab, "imaps", "imaps", "-u", "alice:secret")
    assert imaps.returncode == 0, imaps.stderr


# -- openssl s_client and posttls-finger ---------------------------------------------------
@pytest.mark.parametrize("proto,service", [("smtp", "smtp"), ("smtp", "submission"),
                                           ("pop3", "pop3"), ("imap", "imap")])
def test_openssl_s_client_starttls_verifies(host, lab, proto, service):
    openssl = need_tool("openssl")
    ip, port = host.endpoints[service]
    r = run([openssl, "s_client", "-connect", f"{ip}:{port}", "-starttls", proto,
             "-servername", host.hostname, "-verify_hostname", host.hostname,
             "-CAfile", str(lab.ca.root_path), "-brief"], input="")
    out = r.stdout + r.stderr
    assert "Verification: OK" in out, out
    assert "Protocol version: TLSv1.3" in out


def test_openssl_s_client_without_the_ca(host, lab, tmp_path):
    openssl = need_tool("openssl")
    ip, port = host.endpoints["smtps"]
    r = run([openssl, "s_client", "-connect", f"{ip}:{port}", "-servername", host.hostname,
             "-no-CAfile", "-no-CApath", "-no-CAstore", "-verify_return_error",
             "-brief"], input="")
    assert r.returncode != 0
    assert "unable to get local issuer certificate" in r.stdout + r.stderr


def test_posttls_finger_secure_level(host, lab):
    finger = need_tool("posttls-finger")
    ip, port = host.endpoints["smtp"]
    r = run([finger, "-c", "-l", "secure", "-F", str(lab.ca.root_path),
             f"[{ip}]:{port}", host.hostname])
    out = r.stdout + r.stderr
    assert f"Verified TLS connection established to {ip}[{ip}]:{port}" in out, out
    assert "server-signature ECDSA (prime256v1) server-digest SHA256" in out
    assert "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" in out

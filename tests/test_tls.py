"""TLS contexts and the handshake inspector, against tiny asyncio servers on port 0."""
from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from labmail.net.certs import LabCA, cert_pem, generate_key, key_pem, self_signed
from labmail.net.tlsctx import (client_context, dovecot_server_context, hostname_matches,
                                inspect_tls, parse_protocols, peer_chain, peer_trust,
                                postfix_client_context, postfix_server_context, server_context,
                                tls_summary)

GREETING = {"smtp": b"220 tiny.lab ESMTP\r\n", "pop3": b"+OK tiny POP3 ready\r\n",
            "imap": b"* OK [CAPABILITY IMAP4rev1 STARTTLS] tiny ready\r\n"}


async def _serve(reader, writer, ctx, mode, offer_tls=True):
    """Implicit TLS (mode None) or a cleartext greeting + STARTTLS; then echo lines."""
    try:
        if mode:
            writer.write(GREETING[mode])
        for _ in range(50):
            line = await asyncio.wait_for(reader.readline(), 5)
            if not line:
                break
            words = line.decode().split()
            tag, cmd = (words[0], " ".join(words[1:]).upper()) if mode == "imap" and words \
                else ("", " ".join(words).upper())
            if cmd.startswith("EHLO"):
                writer.write(b"250-tiny.lab\r\n" + (b"250-STARTTLS\r\n" if offer_tls else b"")
                             + b"250 8BITMIME\r\n")
            elif cmd == "CAPABILITY":
                writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS\r\n" + tag.encode() + b" OK done\r\n")
            elif cmd in ("STARTTLS", "STLS"):
                writer.write({"smtp": b"220 2.0.0 Ready to start TLS\r\n",
                              "pop3": b"+OK Begin TLS negotiation\r\n",
                              "imap": tag.encode() + b" OK Begin TLS negotiation now\r\n"}[mode])
                await writer.drain()
                await writer.start_tls(ctx)
                continue
            elif cmd in ("QUIT", "LOGOUT"):
                writer.write(tag.encode() + b" OK bye\r\n" if tag else b"221 2.0.0 Bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(line)
            await writer.drain()
    except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError,
            asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def serve(loop):
    """serve(ctx, mode=None) -> port of a running tiny server (closed after the test)."""
    servers = []

    def start(ctx, mode=None, offer_tls=True):
        async def go():
            return await asyncio.start_server(
                lambda r, w: _serve(r, w, ctx, mode, offer_tls), "127.0.0.1", 0,
                ssl=None if mode else ctx)
        srv = asyncio.run_coroutine_threadsafe(go(), loop).result(5)
        servers.append(srv)
        return srv.sockets[0].getsockname()[1]

    yield start

    async def close(srv):       # on the loop's own thread: asyncio objects are not thread-safe
        srv.close()
        await srv.wait_closed()

    for srv in servers:
        asyncio.run_coroutine_threadsafe(close(srv), loop).result(5)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A lab CA, a CA-issued cert for mail.example.org+localhost, and a self-signed one."""
    d = tmp_path_factory.mktemp("pki")
    ca = LabCA.load_or_create(d / "ca")
    issued = ca.issue(["mail.example.org", "localhost"], key=generate_key("ec"))
    files = {"full": cert_pem(issued.cert, *issued.chain), "cert": cert_pem(issued.cert),
             "chain": cert_pem(*issued.chain), "key": key_pem(issued.key),
             "keychain": key_pem(issued.key) + cert_pem(issued.cert, *issued.chain)}
    ss_cert, ss_key = self_signed("mail.example.com", key=generate_key("ec"))
    files.update(selfsigned=cert_pem(ss_cert), selfsigned_key=key_pem(ss_key))
    paths = {}
    for name, data in files.items():
        paths[name] = d / f"{name}.pem"
        paths[name].write_bytes(data)
    paths["root"] = ca.root_path
    return paths


def _client(port, ctx, name):
    """A blocking TLS client: handshake, one echoed line; returns (version, cipher)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as tls:
            tls.sendall(b"hello\r\n")
            assert tls.recv(100) == b"hello\r\n"
            return tls.version(), tls.cipher()[0]


# -- verification ------------------------------------------------------------------------
def test_verifying_client_refuses_a_self_signed_certificate(serve, pki):
    port = serve(server_context(pki["selfsigned"], pki["selfsigned_key"]))
    with pytest.raises(ssl.SSLCertVerificationError) as err:
        _client(port, client_context(pki["root"]), "mail.example.com")
    assert err.value.verify_message == "self-signed certificate"
    # trusting that very certificate explicitly works (the course's "accept it" step)
    assert _client(port, client_context(pki["selfsigned"]), "mail.example.com")[0] == "TLSv1.3"


def test_lab_ca_certificate_verifies(serve, pki):
    port = serve(server_context(pki["full"], pki["key"]))
    version, _ = _client(port, client_context(pki["root"]), "mail.example.org")
    assert version == "TLSv1.3"
    assert _client(port, client_context(pki["root"]), "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        _client(port, client_context(pki["root"]), "other.example.org")
    assert _client(port, client_context(verify=False), "anything")


def test_missing_intermediate_breaks_verification_until_chain_is_given(serve, pki):
    port = serve(server_context(pki["cert"], pki["key"]))
    with pytest.raises(ssl.SSLCertVerificationError) as err:
        _client(port, client_context(pki["root"]), "mail.example.org")
    assert err.value.verify_message == "unable to get local issuer certificate"
    port = serve(server_context(pki["cert"], pki["key"], chain_file=pki["chain"]))
    assert _client(port, client_context(pki["root"]), "mail.example.org")


def test_chain_files_hold_key_and_chain(serve, pki):
    port = serve(server_context(chain_files=[pki["keychain"]]))
    assert _client(port, client_context(pki["root"]), "mail.example.org")


# -- protocols and ciphers ---------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    (">=TLSv1.2", (ssl.TLSVersion.TLSv1_2, None)),
    ("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", (ssl.TLSVersion.TLSv1_2, None)),
    ("<=TLSv1.2", (None, ssl.TLSVersion.TLSv1_2)),
    ("TLSv1.2 TLSv1.3", (ssl.TLSVersion.TLSv1_2, None)),
    (">=TLSv1", (None, None)),
    ("!SSLv2:!SSLv3", (None, None)),
])
def test_parse_protocols(text, expected):
    assert parse_protocols(text) == expected


def test_parse_protocols_errors():
    with pytest.raises(ValueError, match="unknown TLS protocol"):
        parse_protocols(">=TLSv2")
    with pytest.raises(ValueError, match="no TLS protocol left"):
        parse_protocols("!SSLv2 !SSLv3 !TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3")


def test_protocol_and_cipher_settings_take_effect(serve, pki):
    port = serve(server_context(pki["full"], pki["key"], protocols="<=TLSv1.2", ciphers="high"))
    version, cipher = _client(port, client_context(pki["root"]), "mail.example.org")
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-ECDSA-")
    port = serve(server_context(pki["full"], pki["key"], min_version="TLSv1.3"))
    with pytest.raises(ssl.SSLError):
        _client(port, client_context(pki["root"], protocols="<=TLSv1.2"), "mail.example.org")
    with pytest.raises(ssl.SSLError):
        server_context(pki["full"], pki["key"], ciphers="NO-SUCH-CIPHER")


def test_hostname_matching():
    assert hostname_matches("mail.example.org", ["MAIL.example.org."])
    assert hostname_matches("mail.example.org", ["*.example.org"])
    assert not hostname_matches("a.mail.example.org", ["*.example.org"])
    assert not hostname_matches("example.org", ["*.example.org"])


# -- configuration as Postfix and Dovecot write it ------------------------------------------
def test_postfix_server_context_from_main_cf_values(serve, pki, tmp_path):
    # paths as main.cf names them, mapped into a state dir as host.path() does
    root = tmp_path / "state"
    (root / "etc/ssl").mkdir(parents=True)
    for name in ("full", "key", "keychain"):
        (root / f"etc/ssl/{name}.pem").write_bytes(pki[name].read_bytes())
    mapped = lambda p: root / p.lstrip("/")                         # noqa: E731
    params = {"smtpd_tls_cert_file": "/etc/ssl/full.pem", "smtpd_tls_key_file": "/etc/ssl/key.pem",
              "smtpd_tls_protocols": "<=TLSv1.2", "smtpd_tls_ciphers": "high",
              "smtpd_tls_exclude_ciphers": "aNULL, CHACHA20"}
    port = serve(postfix_server_context(params, path=mapped))
    version, cipher = _client(port, client_context(pki["root"]), "mail.example.org")
    assert version == "TLSv1.2" and "CHACHA20" not in cipher
    # mandatory settings apply when the level is "encrypt"
    params["smtpd_tls_mandatory_protocols"] = ">=TLSv1.3"
    port = serve(postfix_server_context(params, path=mapped, mandatory=True))
    assert _client(port, client_context(pki["root"]), "mail.example.org")[0] == "TLSv1.3"
    chain_only = {"smtpd_tls_chain_files": "/etc/ssl/keychain.pem", "smtpd_tls_cert_file": ""}
    port = serve(postfix_server_context(chain_only.get, path=mapped))
    assert _client(port, client_context(pki["root"]), "mail.example.org")
    assert postfix_server_context({}, path=mapped) is None          # no certificate: no TLS


def test_postfix_server_context_from_a_real_main_cf(serve, pki, tmp_path):
    from labmail.mta.maincf import MainCf
    cf = MainCf.from_text(
        f"smtpd_tls_cert_file = {pki['full']}\n"
        f"smtpd_tls_key_file = {pki['key']}\n"
        "smtpd_tls_security_level = may\n"
        "smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3\n")
    port = serve(postfix_server_context(cf))
    assert _client(port, client_context(pki["root"]), "mail.example.org")[0] == "TLSv1.2"
    assert postfix_server_context(MainCf.from_text("")) is None   # Postfix's default: no cert
    bogus = MainCf.from_text(f"smtpd_tls_cert_file = {pki['full']}\n"
                             f"smtpd_tls_key_file = {pki['key']}\nsmtpd_tls_ciphers = HIGH\n")
    assert postfix_server_context(bogus) is not None               # grade names are case-blind


def test_postfix_client_context_levels(serve, pki):
    from labmail.mta.maincf import MainCf
    assert postfix_client_context(MainCf.from_text("")) == (None, "none", None)
    ctx, level, _ = postfix_client_context(MainCf.from_text("smtp_use_tls = yes"))
    assert level == "may" and ctx.verify_mode == ssl.CERT_NONE
    cf = MainCf.from_text(f"smtp_tls_security_level = verify\nsmtp_tls_CAfile = {pki['root']}\n"
                          "smtp_tls_mandatory_protocols = >=TLSv1.3\n")
    ctx, level, cafile = postfix_client_context(cf)
    assert level == "verify" and cafile == pki["root"]
    # a self-signed peer: the handshake completes, the verdict is left to peer_trust
    port = serve(server_context(pki["selfsigned"], pki["selfsigned_key"]))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="mail.example.com") as tls:
            assert tls.version() == "TLSv1.3"
            assert peer_trust(peer_chain(tls), cafile, ["mail.example.com"])[0] == "Untrusted"


def test_dovecot_server_context_reads_angle_bracket_paths(serve, pki):
    ctx = dovecot_server_context(f"<{pki['full']}", f"<{pki['key']}", ssl_min_protocol="TLSv1.3")
    port = serve(ctx, "imap")
    report = inspect_tls("127.0.0.1", port, starttls="imap", cafile=pki["root"],
                         server_name="mail.example.org")
    assert report.level == "Verified" and report.protocol == "TLSv1.3"


def _peer(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_context(verify=False).wrap_socket(raw) as tls:
            return peer_chain(tls), tls_summary(tls)


def test_peer_trust_levels_without_failing_the_handshake(serve, pki):
    chain, summary = _peer(serve(server_context(pki["full"], pki["key"])))
    assert summary.startswith("TLSv1.3 with cipher TLS_") and summary.endswith("(256/256 bits)")
    assert len(chain) == 2
    assert peer_trust(chain, pki["root"], ["mail.example.org"]) == ("Verified", None)
    level, why = peer_trust(chain, pki["root"], ["other.example.org"])
    assert level == "Trusted" and "hostname mismatch" in why
    chain, _ = _peer(serve(server_context(pki["selfsigned"], pki["selfsigned_key"])))
    assert peer_trust(chain, pki["root"], ["mail.example.com"])[0] == "Untrusted"
    chain, _ = _peer(serve(server_context(pki["cert"], pki["key"])))      # no intermediate
    assert peer_trust(chain, pki["root"], ["mail.example.org"])[0] == "Untrusted"
    assert peer_trust(chain, None, ["mail.example.org"])[0] == "Untrusted"


# -- inspection, like posttls-finger ------------------------------------------------------
@pytest.mark.parametrize("mode", ["smtp", "pop3", "imap"])
def test_inspect_after_starttls_verified(serve, pki, mode):
    port = serve(server_context(pki["full"], pki["key"]), mode)
    report = inspect_tls("127.0.0.1", port, starttls=mode, cafile=pki["root"],
                         server_name="mail.example.org")
    assert report.level == "Verified" and report.reason is None and report.verify_code == 0
    assert report.protocol == "TLSv1.3" and report.bits == 256
    assert [c.subject for c in report.chain] == [
        "CN=mail.example.org", "CN=Lab E1,O=Lab Encrypt", "CN=Lab Root X1,O=Lab Encrypt"]
    assert report.chain[0].sans == ("mail.example.org", "localhost")
    assert any(line.startswith("C: ") and line.endswith(("STARTTLS", "STLS"))
               for line in report.dialogue)
    text = str(report)
    assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]" in text
    assert "Verify return code: 0 (ok)" in text


def test_inspect_self_signed_is_untrusted_and_says_why(serve, pki):
    port = serve(server_context(pki["selfsigned"], pki["selfsigned_key"]))
    report = inspect_tls("127.0.0.1", port, cafile=pki["root"], server_name="mail.example.com")
    assert report.level == "Untrusted" and report.reason == "self-signed certificate"
    assert report.verify_code == 18 and report.chain[0].self_signed
    assert "certificate verification failed for 127.0.0.1[127.0.0.1]" in str(report)


def test_inspect_name_mismatch_is_trusted_not_verified(serve, pki):
    port = serve(server_context(pki["full"], pki["key"]), "smtp")
    report = inspect_tls("127.0.0.1", port, starttls="smtp", cafile=pki["root"])
    assert report.level == "Trusted" and "hostname mismatch" in report.reason
    assert report.verify_code == 62


def test_inspect_without_starttls_offered(serve, pki):
    port = serve(server_context(pki["full"], pki["key"]), "smtp", offer_tls=False)
    with pytest.raises(ConnectionError, match="does not offer STARTTLS"):
        inspect_tls("127.0.0.1", port, starttls="smtp")


def test_tls_check_command(serve, pki, capsys):
    from labmail.cli import main
    port = serve(server_context(pki["full"], pki["key"]), "smtp")
    assert main(["tls-check", f"127.0.0.1:{port}", "--starttls", "smtp", "--cafile",
                 str(pki["root"]), "--servername", "mail.example.org", "--verify"]) == 0
    out = capsys.readouterr().out
    assert "tls-check: > STARTTLS" in out and "Verified TLS connection" in out
    port = serve(server_context(pki["selfsigned"], pki["selfsigned_key"]))
    assert main(["tls-check", f"127.0.0.1:{port}", "--cafile", str(pki["root"]), "--verify"]) == 2
    assert "Untrusted TLS connection" in capsys.readouterr().out
    assert main(["tls-check", "nohostport"]) == 1
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    free = closed.getsockname()[1]
    closed.close()
    assert main(["tls-check", f"127.0.0.1:{free}"]) == 1


# -- real tools -------------------------------------------------------------------------------
@pytest.mark.realtool
@pytest.mark.parametrize("mode", ["smtp", "pop3", "imap"])
def test_openssl_s_client_starttls(serve, pki, mode):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed; apt-get install openssl")
    port = serve(server_context(pki["full"], pki["key"]), mode)
    run = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", mode,
         "-CAfile", str(pki["root"]), "-verify_return_error", "-verify_hostname",
         "mail.example.org", "-servername", "mail.example.org"],
        input=b"QUIT\r\n" if mode != "imap" else b"a9 LOGOUT\r\n", capture_output=True,
        timeout=20)
    out = run.stdout.decode()
    assert "Verify return code: 0 (ok)" in out, out + run.stderr.decode()
    assert "CN = Lab E1" in out


@pytest.mark.realtool
def test_posttls_finger_verifies_against_the_lab_ca(serve, pki):
    finger = shutil.which("posttls-finger")
    if finger is None:
        pytest.skip("posttls-finger is not installed; apt-get install postfix")
    port = serve(server_context(pki["full"], pki["key"]), "smtp")
    out = subprocess.run([finger, "-c", "-l", "secure", "-F", str(pki["root"]),
                          f"[127.0.0.1]:{port}", "mail.example.org"],
                         capture_output=True, text=True, timeout=20)
    text = out.stdout + out.stderr
    assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]" in text, text
    out = subprocess.run([finger, "-c", "-l", "may", f"[127.0.0.1]:{port}"],
                         capture_output=True, text=True, timeout=20)
    assert "Untrusted TLS connection established" in out.stdout + out.stderr


# -- parsers, property-based ------------------------------------------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PROTOS = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["", "!", ">=", "<="]), st.sampled_from(_PROTOS)),
                max_size=6),
       st.sampled_from([", ", " ", ":"]))
def test_parse_protocols_is_total_and_ordered(items, sep):
    text = sep.join(op + p for op, p in items)
    try:
        lo, hi = parse_protocols(text)
    except ValueError as exc:
        assert "no TLS protocol left" in str(exc) or "no longer speaks" in str(exc)
        return
    assert lo is None or lo >= ssl.TLSVersion.TLSv1_2      # never below OpenSSL's floor
    assert lo is None or hi is None or lo <= hi


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["127.0.0.2", "mail.example.org", "::1"]), st.integers(1, 65535))
def test_tls_check_target_round_trip(host, port):
    from labmail.commands.tls_check import parse_target
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    assert parse_target(text) == (host, port)


@pytest.mark.realtool
@pytest.mark.parametrize("trusted", [False, True])
def test_tls_check_summary_line_matches_posttls_finger(serve, pki, trusted):
    finger = shutil.which("posttls-finger")
    if finger is None:
        pytest.skip("posttls-finger is not installed; apt-get install postfix")
    port = serve(server_context(pki["full"], pki["key"]), "smtp")
    where = f"[127.0.0.1]:{port}"
    args = ["-c", "-l", "secure", "-F", str(pki["root"]), where, "mail.example.org"] if trusted \
        else ["-c", "-l", "may", where]
    out = subprocess.run([finger, *args], capture_output=True, text=True, timeout=20)
    theirs = [line.split(": ", 1)[1] for line in (out.stdout + out.stderr).splitlines()
              if "TLS connection established" in line]
    report = inspect_tls("127.0.0.1", port, starttls="smtp",
                         cafile=pki["root"] if trusted else None,
                         server_name="mail.example.org")
    ours = [line.split(": ", 1)[1] for line in str(report).splitlines()
            if "TLS connection established" in line]
    assert len(theirs) == len(ours) == 1
    assert theirs[0].startswith(ours[0])     # Postfix adds key-exchange details Python lacks

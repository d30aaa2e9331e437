"""spamd/spamc: the protocol as exact bytes (no sockets), then over real sockets."""
from __future__ import annotations

import types
import zlib

import pytest
from hypothesis import given, settings, strategies as st

from labmail.spam.protocol import (ClientConnection, Method, RemoteProtocolError, Request, Response,
                                   ServerConnection, State, encode_request, encode_response)
from labmail.spam.spamc import request, run as spamc_run
from labmail.spam.spamd import SpamdService, start_spamd_server

SPAM = (b"From: winner@lottery.test\nTo: bob@example.com\nSubject: You have WON $1,000,000!!!\n"
        b"Message-ID: <w1@lottery.test>\nDate: Fri, 27 Nov 2026 09:00:00 +0000\n\n"
        b"Dear friend, you have won the lottery. Claim your prize now, act now, 100% free!\n")
HAM = (b"From: alice@example.org\nTo: bob@example.com\nSubject: lunch\nMessage-ID: <l1@example.org>\n"
       b"Date: Fri, 27 Nov 2026 09:00:00 +0000\n\nSee you at noon.\n")


# -- sans-IO ----------------------------------------------------------------------------
def test_request_transcript_exact_bytes():
    data = encode_request(Request(Method.CHECK, "1.5", (("User", "bob"),), b"Subject: x\r\n\r\nhi\r\n"))
    assert data == b"CHECK SPAMC/1.5\r\nUser: bob\r\nContent-length: 18\r\n\r\nSubject: x\r\n\r\nhi\r\n"
    conn = ServerConnection()
    events = []
    for i in range(len(data)):                 # one byte at a time: the parser must not care
        events += conn.receive_data(data[i:i + 1])
    assert events == [Request(Method.CHECK, "1.5", (("User", "bob"), ("Content-length", "18")),
                              b"Subject: x\r\n\r\nhi\r\n")]
    assert conn.state is State.DONE


def test_ping_needs_no_body_and_pong_is_one_line():
    assert ServerConnection().receive_data(b"PING SPAMC/1.5\r\n\r\n") == [Request(Method.PING, "1.5")]
    assert encode_response(Response(0, "PONG", version="1.5")) == b"SPAMD/1.5 0 PONG\r\n"


def test_response_exact_bytes():
    resp = Response(0, "EX_OK", (("Content-length", "11"), ("Spam", "True ; 7.2 / 5.0")), b"A_RULE,B_RU")
    assert encode_response(resp) == (b"SPAMD/1.1 0 EX_OK\r\nContent-length: 11\r\nSpam: True ; 7.2 / 5.0\r\n"
                                     b"\r\nA_RULE,B_RU")
    client = ClientConnection()
    assert client.receive_data(encode_response(resp)[:20]) is None
    parsed = client.receive_data(encode_response(resp)[20:])
    assert parsed.spam == (True, 7.2, 5.0) and parsed.body == b"A_RULE,B_RU"


def test_check_response_without_length_completes_at_eof():
    client = ClientConnection()
    assert client.receive_data(b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.3 / 5.0\r\n\r\n") is None
    assert client.receive_eof().spam == (False, 1.3, 5.0)


@pytest.mark.parametrize("data, text, code", [
    (b"FROB SPAMC/1.5\r\n\r\n", "FROB SPAMC/1.5", 76),
    (b"CHECK HTTP/1.1\r\n\r\n", "CHECK HTTP/1.1", 76),
    (b"CHECK SPAMC/1.5\r\nno colon here\r\n\r\n", "(header not in 'Name: value' format)", 76),
    (b"CHECK SPAMC/1.5\r\nContent-length: 12x\r\n\r\n", "(Content-Length contains non-numeric bytes)", 76),
    (b"CHECK SPAMC/1.5\r\nUser: b\x01ob\r\n\r\n", "(User header contains control chars)", 76),
    (b"CHECK SPAMC/1.5\r\nCompress: gzip\r\n\r\n", "(compression type not supported: gzip)", 76),
    (b"CHECK SPAMC/1.5\r\nContent-length: 99999999999\r\n\r\n", "too big", 74),
    (b"CHECK SPAMC/1.5\r\nCompress: zlib\r\nContent-length: 3\r\n\r\nabc", "zlib: failed to find end", 69),
])
def test_protocol_errors(data, text, code):
    [err] = ServerConnection().receive_data(data)
    assert isinstance(err, RemoteProtocolError) and text in err.text and err.code == code


def test_eof_ends_a_body_without_length_and_cuts_one_with_length():
    conn = ServerConnection()
    assert conn.receive_data(b"CHECK SPAMC/1.5\r\nUser: bob\r\n\r\nSubject: x\r\n") == []
    assert conn.receive_eof() == [Request(Method.CHECK, "1.5", (("User", "bob"),), b"Subject: x\r\n")]
    conn = ServerConnection()
    conn.receive_data(b"CHECK SPAMC/1.5\r\nContent-length: 50\r\n\r\nshort")
    [err] = conn.receive_eof()
    assert err.text == "(Content-Length mismatch: Expected 50 bytes, got 5 bytes)" and err.code == 76
    assert ServerConnection().receive_eof()[0].text == "(closed before headers)"


def test_compressed_body():
    data = encode_request(Request(Method.SYMBOLS, "1.5", (), HAM), compress=True)
    assert b"Compress: zlib\r\n" in data and zlib.compress(HAM) in data
    [req] = ServerConnection().receive_data(data)
    assert req.body == HAM


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_server_parser_never_crashes(data):
    conn = ServerConnection(max_size=1000)
    for event in conn.receive_data(data):
        assert isinstance(event, (Request, RemoteProtocolError))


# -- the service, socket-free ------------------------------------------------------------
@pytest.fixture
def service(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "local.cf").write_text("required_score 5\n")
    homes = {"bob": tmp_path / "home" / "bob"}
    log = []
    svc = SpamdService(hostname="mail.example.com", site_dir=tmp_path / "etc", home_of=homes.get,
                       default_home=tmp_path / "nobody", maillog=types.SimpleNamespace(
                           write=lambda prog, msg: log.append((prog, msg))))
    svc.log = log
    return svc


def handle(svc, method, body=b"", headers=()):
    return svc.handle(Request(method, "1.5", tuple(headers), body), ("127.0.0.1", 40000))


def test_service_methods(service):
    check = handle(service, Method.CHECK, SPAM)
    assert check.code == 0 and check.message == "EX_OK" and check.headers[0][0] == "Spam"
    assert check.spam[0] is True and check.body == b""
    symbols = handle(service, Method.SYMBOLS, SPAM)
    assert symbols.headers[0] == ("Content-length", str(len(symbols.body)))
    assert b"LAB_LOTTERY" in symbols.body and b"\n" not in symbols.body
    report = handle(service, Method.REPORT, HAM)
    assert b"Content analysis details:" in report.body and report.spam[0] is False
    assert handle(service, Method.REPORT_IFSPAM, HAM).body == b""
    assert b"Content analysis details:" in handle(service, Method.REPORT_IFSPAM, SPAM).body
    processed = handle(service, Method.PROCESS, SPAM).body
    assert b"X-Spam-Flag: YES" in processed and b"message/rfc822" in processed
    headers = handle(service, Method.HEADERS, SPAM).body
    assert headers.endswith(b"\n\n") and b"This is a multi-part" not in headers
    assert handle(service, Method.PING).message == "PONG"
    assert handle(service, Method.SKIP) is None


def test_service_logs_like_spamd(service):
    handle(service, Method.CHECK, SPAM, [("User", "bob")])
    msgs = [m for _, m in service.log]
    assert msgs[0] == "spamd: checking message <w1@lottery.test> for bob:1000"
    assert msgs[1].startswith("spamd: identified spam (") and " for bob:1000 in " in msgs[1]
    assert msgs[1].endswith(f" seconds, {len(SPAM)} bytes.")
    assert msgs[2].startswith("spamd: result: Y ") and "user=bob" in msgs[2] and "mid=<w1@lottery.test>" in msgs[2]
    handle(service, Method.PROCESS, HAM, [("User", "carol")])
    assert "spamd: handle_user (getpwnam) unable to find user: 'carol'" in [m for _, m in service.log]
    assert "spamd: processing message <l1@example.org> for carol:1000" in [m for _, m in service.log]
    assert any(m.startswith("spamd: clean message (") for _, m in service.log)


def test_user_prefs_are_per_user_and_reloaded(service, tmp_path):
    prefs = tmp_path / "home" / "bob" / ".spamassassin" / "user_prefs"
    prefs.parent.mkdir(parents=True)
    prefs.write_text("required_score 50\n")
    assert handle(service, Method.CHECK, SPAM, [("User", "bob")]).spam[0] is False
    assert handle(service, Method.CHECK, SPAM, [("User", "carol")]).spam[0] is True
    prefs.write_text("required_score 5\nwhitelist_from winner@lottery.test\n")
    assert handle(service, Method.CHECK, SPAM, [("User", "bob")]).spam[0] is False
    assert b"USER_IN_WELCOMELIST" in handle(service, Method.SYMBOLS, SPAM, [("User", "bob")]).body


def test_tell_learns_into_the_users_bayes_db(service, tmp_path):
    resp = handle(service, Method.TELL, SPAM, [("User", "bob"), ("Message-class", "spam"), ("Set", "local")])
    assert resp.code == 0 and resp.headers == (("DidSet", "local"),)
    assert (tmp_path / "home" / "bob" / ".spamassassin" / "bayes_toks.json").exists()
    resp = handle(service, Method.TELL, SPAM, [("User", "bob"), ("Remove", "local")])
    assert resp.headers == (("DidRemove", "local"),)
    bad = handle(service, Method.TELL, SPAM, [("Message-class", "spam"), ("Set", "local"), ("Remove", "local")])
    assert bad.code == 64


# -- over sockets, on a running lab host ------------------------------------------------------
@pytest.fixture
def spamd(host):
    server = host.lab.run(start_spamd_server(host, host.ip, 0))
    yield host, server.sockets[0].getsockname()[:2]
    host.lab.run(_close(server))


async def _close(server):
    server.close()
    await server.wait_closed()


def test_spamd_over_tcp_every_method(spamd):
    host, (ip, port) = spamd
    assert request(ip, port, Method.PING) == Response(0, "PONG", version="1.5")
    check = request(ip, port, Method.CHECK, SPAM, user="bob")
    assert check.spam[0] is True
    sym = request(ip, port, Method.SYMBOLS, HAM, user="alice")
    assert sym.spam[0] is False
    proc = request(ip, port, Method.PROCESS, SPAM, user="bob")
    assert proc.body.startswith(b"Received: from localhost by mail.example.com\n")
    tell = request(ip, port, Method.TELL, HAM, user="alice", headers=[("Message-class", "ham"), ("Set", "local")])
    assert tell.headers == (("DidSet", "local"),)
    assert host.path("/home/alice/.spamassassin/bayes_toks.json").exists()
    log = host.maillog.read()
    assert "spamd[" in log and "spamd: identified spam (" in log and "for bob:" in log
    transcript = host.transcripts("spamd")[-1].text()
    assert "C: TELL SPAMC/1.5" in transcript and "S: SPAMD/1.1 0 EX_OK" in transcript


def test_spamd_reads_the_hosts_local_cf(spamd):
    host, (ip, port) = spamd
    cf = host.path("/etc/mail/spamassassin/local.cf")
    cf.parent.mkdir(parents=True, exist_ok=True)
    request(ip, port, Method.CHECK, HAM)
    cf.write_text("required_score 2\nbody LAB_LUNCH /noon/\nscore LAB_LUNCH 3\n")
    resp = request(ip, port, Method.SYMBOLS, HAM)
    assert "spamd: site configuration changed, rules reloaded" in host.maillog.read()
    assert resp.spam[0] is True and resp.spam[2] == 2.0 and b"LAB_LUNCH" in resp.body


def test_spamd_answers_protocol_errors(spamd):
    import socket
    _, (ip, port) = spamd
    with socket.create_connection((ip, port), timeout=5) as s:
        s.sendall(b"HELLO SPAMC/1.5\r\n\r\n")
        data = s.recv(1000)
    assert data == b"SPAMD/1.0 76 Bad header line: HELLO SPAMC/1.5\r\n"     # as spamd 4.0 answers


def test_labmail_spamc_options_and_exit_codes(spamd):
    _, (ip, port) = spamd
    base = ["-d", ip, "-p", str(port)]
    out, _, status = spamc_run(base + ["-c"], SPAM)
    assert status == 1 and out.decode().rstrip().endswith("/5.0") and float(out.split(b"/")[0]) >= 5
    out, _, status = spamc_run(base + ["-c"], HAM)
    assert status == 0
    out, _, _ = spamc_run(base + ["-y"], SPAM)
    assert b"LAB_LOTTERY" in out
    out, _, status = spamc_run(base + ["-E"], SPAM)
    assert status == 1 and b"X-Spam-Flag: YES" in out
    out, _, _ = spamc_run(base + ["-R"], HAM)
    assert out.split(b"\n")[0].endswith(b"/5.0") and b"Content analysis" in out
    out, _, _ = spamc_run(base + ["-r"], HAM)
    assert out == b"", "spamc -r prints nothing for ham, as Debian's does"
    out, _, _ = spamc_run(base + ["--headers"], SPAM)
    assert out.endswith(b"Claim your prize now, act now, 100% free!\n") and b"X-Spam-Status: Yes" in out
    out, _, _ = spamc_run(base + ["-K"], b"")
    assert out == b"SPAMD/1.5 0\n"
    out, _, _ = spamc_run(base + ["-L", "spam", "-u", "bob"], SPAM)
    assert out == b"Message successfully un/learned\n"


def test_spamc_falls_back_safely_when_spamd_is_down():
    out, err, status = spamc_run(["-d", "127.0.0.1", "-p", "1", "--retry-sleep", "0"], HAM)
    assert (out, err, status) == (HAM, "", 0)
    assert spamc_run(["-d", "127.0.0.1", "-p", "1", "--retry-sleep", "0", "-c"], HAM)[0] == b"0/0\n"
    out, err, status = spamc_run(["-d", "127.0.0.1", "-p", "1", "--retry-sleep", "0", "-x", "-l"], HAM)
    assert (out, status) == (b"", 69) and "connect to spamd on 127.0.0.1 failed" in err
    assert spamc_run(["-d", "127.0.0.1", "-p", "1", "--retry-sleep", "0", "-x", "-X"], HAM)[2] == 75


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_client_parser_never_crashes(data, eof):
    conn = ClientConnection()
    try:
        resp = conn.receive_data(data)
        if eof and resp is None:
            resp = conn.receive_eof()
    except RemoteProtocolError:
        return
    assert resp is None or isinstance(resp, Response)

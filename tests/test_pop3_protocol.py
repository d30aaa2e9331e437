"""Transcript tests of the sans-IO POP3 core: exact bytes, no sockets.

Every command is tried in every state; the reply texts are Dovecot 2.3's.
"""
from __future__ import annotations

import base64
import hashlib

import pytest

from labmail.access.pop3.protocol import (MAX_LINE, MAX_LINE_PREAUTH, Close, Event,
                                          MemoryBackend, Pause, POP3Connection, Settings,
                                          StartTLS, wire)
from labmail.access.pop3.states import ALLOWED, State, TRANSITIONS, next_state

MSG1 = b"From: bob@example.com\nTo: alice@example.com\nSubject: one\n\nHello\n.dotline\nend\n"
MSG2 = b"Subject: two\n\nline1\nline2\nline3\n"
CHALLENGE = "<1896.697170952@mail.example.com>"


def make(settings: Settings = Settings(greeting="Dovecot ready."), mail=None, lock=True):
    backend = MemoryBackend({"alice": "secret", "bob": "hunter2"},
                            {"alice": [MSG1, MSG2]} if mail is None else mail, lock=lock)
    conn = POP3Connection(backend, settings)
    assert wire(conn.start()).startswith(b"+OK Dovecot ready.")
    return conn, backend


def say(conn, line: str) -> bytes:
    return wire(conn.receive_data(line.encode() + b"\r\n"))


def login(conn) -> None:
    assert say(conn, "USER alice") == b"+OK\r\n"
    assert say(conn, "PASS secret") == b"+OK Logged in.\r\n"


# -- the state table -------------------------------------------------------------
def test_state_table():
    assert next_state(State.AUTHORIZATION, "login") is State.TRANSACTION
    assert next_state(State.TRANSACTION, "QUIT") is State.UPDATE
    assert next_state(State.TRANSACTION, "drop") is State.CLOSED     # no UPDATE
    assert next_state(State.UPDATE, "updated") is State.CLOSED
    assert next_state(State.AUTHORIZATION, "STAT") is State.AUTHORIZATION
    assert "RETR" in ALLOWED[State.TRANSACTION] and "RETR" not in ALLOWED[State.AUTHORIZATION]
    assert all(s in State for s, _ in TRANSITIONS)


# -- AUTHORIZATION --------------------------------------------------------------
def test_greeting_with_apop_challenge():
    conn = POP3Connection(MemoryBackend({}), Settings(greeting="labmail ready.",
                                                      apop_challenge=CHALLENGE))
    assert wire(conn.start()) == f"+OK labmail ready. {CHALLENGE}\r\n".encode()


def test_capa_before_and_after_login():
    conn, _ = make(Settings(greeting="Dovecot ready.", tls_available=True))
    assert say(conn, "CAPA") == (b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
                                 b"AUTH-RESP-CODE\r\nSTLS\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n")
    login(conn)
    assert say(conn, "CAPA") == (b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
                                 b"AUTH-RESP-CODE\r\n.\r\n")


def test_capa_implementation_line():
    conn, _ = make(Settings(greeting="Dovecot ready.", implementation="labmail"))
    assert say(conn, "CAPA").endswith(b"SASL PLAIN LOGIN\r\nIMPLEMENTATION labmail\r\n.\r\n")


@pytest.mark.parametrize("cmd", sorted(ALLOWED[State.TRANSACTION] - ALLOWED[State.AUTHORIZATION]))
def test_transaction_commands_refused_before_login(cmd):
    conn, _ = make()
    assert say(conn, f"{cmd} 1") == b"-ERR Unknown command.\r\n"
    assert conn.state is State.AUTHORIZATION


def test_three_bad_commands_disconnect():
    conn, _ = make()
    assert say(conn, "FOO") == b"-ERR Unknown command.\r\n"
    assert say(conn, "") == b"-ERR Unknown command.\r\n"
    acts = conn.receive_data(b"STAT\r\nNOOP\r\n")
    assert wire(acts) == b"-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n"
    assert isinstance(acts[-1], Close) and conn.state is State.CLOSED
    assert conn.receive_data(b"USER alice\r\n") == []


def test_user_pass_errors():
    conn, _ = make()
    assert say(conn, "PASS secret") == b"-ERR No username given.\r\n"
    assert say(conn, "USER alice") == b"+OK\r\n"
    acts = conn.receive_data(b"PASS wrong\r\n")
    assert wire(acts) == b"-ERR [AUTH] Authentication failed.\r\n"
    ev = [a for a in acts if isinstance(a, Event)][0]
    assert ev.kind == "auth_failed" and ev.fields["reason"] == "Password mismatch"
    # the USER is forgotten after a failure
    assert say(conn, "PASS secret") == b"-ERR No username given.\r\n"
    assert say(conn, "USER eve") == b"+OK\r\n"
    assert say(conn, "PASS x") == b"-ERR [AUTH] Authentication failed.\r\n"
    login(conn)
    assert conn.state is State.TRANSACTION


def test_failed_login_is_delayed():
    conn, _ = make(Settings(auth_failure_delay=2.0, greeting="Dovecot ready."))
    acts = conn.receive_data(b"USER alice\r\nPASS nope\r\n")
    kinds = [type(a).__name__ for a in acts]
    assert kinds.index("Pause") < len(kinds) - 1
    assert [a for a in acts if isinstance(a, Pause)][0].seconds == 2.0


def test_plaintext_refused_on_insecure_connection():
    conn, _ = make(Settings(greeting="Dovecot ready.", secured=False, tls_available=True,
                            disable_plaintext_auth=True))
    assert say(conn, "CAPA") == (b"+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\n"
                                 b"AUTH-RESP-CODE\r\nSTLS\r\nSASL\r\n.\r\n")
    refused = b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"
    assert say(conn, "USER alice") == refused
    assert say(conn, "PASS secret") == refused
    assert say(conn, "AUTH PLAIN AGFsaWNlAHNlY3JldA==") == b"-ERR [AUTH] Plaintext authentication disabled.\r\n"
    assert say(conn, "AUTH") == b"+OK\r\n.\r\n"
    acts = conn.receive_data(b"STLS\r\nUSER alice\r\n")     # pipelined past STLS: dropped
    assert wire(acts) == b"+OK Begin TLS negotiation now.\r\n"
    assert isinstance(acts[-1], StartTLS)
    conn.tls_started()
    assert say(conn, "STLS") == b"-ERR TLS is already active.\r\n"
    assert b"USER\r\nSASL PLAIN LOGIN\r\n" in say(conn, "CAPA")
    login(conn)


def test_stls_not_offered_without_tls():
    conn, _ = make()
    assert say(conn, "STLS") == b"-ERR TLS support isn't enabled.\r\n"


def test_apop():
    conn, _ = make(Settings(greeting="Dovecot ready.", apop_challenge=CHALLENGE))
    good = hashlib.md5((CHALLENGE + "secret").encode()).hexdigest()
    assert say(conn, "APOP alice") == b"-ERR Invalid parameters.\r\n"
    assert say(conn, "APOP alice 00") == b"-ERR Invalid parameters.\r\n"
    assert say(conn, "APOP alice " + "0" * 32) == b"-ERR [AUTH] Authentication failed.\r\n"
    assert say(conn, "APOP alice " + good) == b"+OK Logged in.\r\n"


def test_apop_refused_without_challenge():
    conn, _ = make()
    assert say(conn, "APOP alice " + "0" * 32) == b"-ERR APOP not enabled.\r\n"


def test_auth_plain_and_login():
    conn, _ = make()
    assert say(conn, "AUTH") == b"+OK\r\nPLAIN\r\nLOGIN\r\n.\r\n"
    assert say(conn, "AUTH CRAM-MD5") == b"-ERR [AUTH] Unsupported authentication mechanism.\r\n"
    assert say(conn, "AUTH PLAIN") == b"+ \r\n"
    assert say(conn, "*") == b"-ERR Authentication aborted by client.\r\n"
    assert say(conn, "AUTH PLAIN") == b"+ \r\n"
    assert say(conn, "=") == b"-ERR [AUTH] Invalid base64 data in continued response\r\n"
    assert say(conn, "AUTH PLAIN") == b"+ \r\n"
    assert say(conn, "!!!") == b"-ERR [AUTH] Invalid base64 in response\r\n"
    assert say(conn, "AUTH PLAIN =") == b"-ERR [AUTH] Authentication failed.\r\n"
    wrong_authz = base64.b64encode(b"bob\x00alice\x00secret").decode()
    assert say(conn, "AUTH PLAIN " + wrong_authz) == b"-ERR [AUTH] Authentication failed.\r\n"
    assert say(conn, "AUTH LOGIN") == b"+ VXNlcm5hbWU6\r\n"
    assert say(conn, "YWxpY2U=") == b"+ UGFzc3dvcmQ6\r\n"
    assert say(conn, "c2VjcmV0") == b"+OK Logged in.\r\n"


def test_auth_plain_initial_response_and_continuation():
    conn, _ = make()
    assert say(conn, "AUTH PLAIN AGFsaWNlAHNlY3JldA==") == b"+OK Logged in.\r\n"
    conn, _ = make()
    assert say(conn, "AUTH PLAIN") == b"+ \r\n"
    assert say(conn, "YWxpY2UAYWxpY2UAc2VjcmV0") == b"+OK Logged in.\r\n"   # authzid = authcid


def test_quit_in_authorization():
    conn, _ = make()
    acts = conn.receive_data(b"QUIT\r\n")
    assert wire(acts) == b"+OK Logging out\r\n"
    assert isinstance(acts[-1], Close) and conn.state is State.CLOSED


def test_maildrop_in_use():
    conn, backend = make()
    login(conn)
    other = POP3Connection(backend, Settings())
    other.start()
    acts = other.receive_data(b"USER alice\r\nPASS secret\r\n")
    assert wire(acts) == b"+OK\r\n-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"
    assert isinstance(acts[-1], Close)
    say(conn, "QUIT")
    third = POP3Connection(backend, Settings())
    third.start()
    assert wire(third.receive_data(b"USER alice\r\nPASS secret\r\n")).endswith(b"+OK Logged in.\r\n")


# -- TRANSACTION ------------------------------------------------------------------
def test_stat_list_uidl():
    conn, _ = make()
    login(conn)
    s1, s2 = len(MSG1) + MSG1.count(b"\n"), len(MSG2) + MSG2.count(b"\n")
    assert say(conn, "STAT") == f"+OK 2 {s1 + s2}\r\n".encode()
    assert say(conn, "LIST") == f"+OK 2 messages:\r\n1 {s1}\r\n2 {s2}\r\n.\r\n".encode()
    assert say(conn, "LIST 2") == f"+OK 2 {s2}\r\n".encode()
    assert say(conn, "list  2") == f"+OK 2 {s2}\r\n".encode()
    assert say(conn, "LIST 02") == f"+OK 2 {s2}\r\n".encode()
    uidl = say(conn, "UIDL")
    assert uidl.startswith(b"+OK\r\n1 00000001") and uidl.endswith(b".\r\n")
    v = conn.maildrop.uidvalidity
    assert say(conn, "UIDL 2") == f"+OK 2 00000002{v:08x}\r\n".encode()


@pytest.mark.parametrize("cmd", ["LIST", "UIDL", "RETR", "DELE", "TOP"])
def test_message_number_errors(cmd):
    conn, _ = make()
    login(conn)
    top = " 1" if cmd == "TOP" else ""
    assert say(conn, f"{cmd} 9{top}") == b"-ERR There's no message 9.\r\n"
    assert say(conn, f"{cmd} 0{top}") == b"-ERR There's no message 0.\r\n"
    assert say(conn, f"{cmd} x") == b"-ERR Invalid message number: x\r\n"
    assert say(conn, f"{cmd} -1") == b"-ERR Invalid message number: -1\r\n"
    assert say(conn, f"{cmd} +1") == b"-ERR Invalid message number: +1\r\n"
    assert say(conn, f"{cmd} 4294967296") == b"-ERR Message number too large: \r\n"
    assert say(conn, f"{cmd} {'1' * 30}") == f"-ERR Message number too large: {'1' * 30}\r\n".encode()
    if cmd != "TOP":
        assert say(conn, f"{cmd} 1 2") == b"-ERR Noise after message number:  2\r\n"
        assert say(conn, f"{cmd} 1 ") == b"-ERR Noise after message number:  \r\n"
    if cmd in ("RETR", "DELE"):
        assert say(conn, cmd) == b"-ERR Invalid message number: \r\n"


def test_retr_is_dot_stuffed_with_crlf():
    conn, _ = make()
    login(conn)
    size = len(MSG1) + MSG1.count(b"\n")
    assert say(conn, "RETR 1") == (f"+OK {size} octets\r\n".encode()
                                   + MSG1.replace(b"\n", b"\r\n").replace(b"\r\n.", b"\r\n..")
                                   + b".\r\n")


def test_top():
    conn, _ = make()
    login(conn)
    assert say(conn, "TOP 2 0") == b"+OK\r\nSubject: two\r\n\r\n.\r\n"
    assert say(conn, "TOP 2 2") == b"+OK\r\nSubject: two\r\n\r\nline1\r\nline2\r\n.\r\n"
    assert say(conn, "TOP 2 99999999999") == b"+OK\r\nSubject: two\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n"
    assert say(conn, "TOP 1 1").endswith(b"\r\n\r\nHello\r\n.\r\n")
    assert say(conn, "TOP 1") == b"-ERR Noise after message number: \r\n"
    assert say(conn, "TOP 1 x") == b"-ERR Invalid size: x\r\n"
    assert say(conn, "TOP 1 -1") == b"-ERR Invalid size: -1\r\n"
    assert say(conn, "TOP 1 5 6") == b"-ERR Noise after size:  6\r\n"
    assert say(conn, "TOP 1 " + "1" * 30) == b"-ERR Size too large: " + b"1" * 30 + b"\r\n"


def test_dele_rset_and_deleted_messages():
    conn, _ = make()
    login(conn)
    assert say(conn, "DELE 1") == b"+OK Marked to be deleted.\r\n"
    for cmd in ("DELE 1", "RETR 1", "LIST 1", "UIDL 1", "TOP 1 1"):
        assert say(conn, cmd) == b"-ERR Message is deleted.\r\n"
    s2 = len(MSG2) + MSG2.count(b"\n")
    assert say(conn, "STAT") == f"+OK 1 {s2}\r\n".encode()
    assert say(conn, "LIST") == f"+OK 1 messages:\r\n2 {s2}\r\n.\r\n".encode()
    assert say(conn, "RSET") == b"+OK\r\n"
    assert say(conn, "STAT").startswith(b"+OK 2 ")
    assert say(conn, "NOOP") == b"+OK\r\n"
    assert say(conn, "NOOP x") == b"+OK\r\n"


@pytest.mark.parametrize("cmd", sorted(ALLOWED[State.AUTHORIZATION] - ALLOWED[State.TRANSACTION]))
def test_authorization_commands_refused_after_login(cmd):
    conn, _ = make()
    login(conn)
    assert say(conn, f"{cmd} x") == f"-ERR Unknown command: {cmd}\r\n".encode()


def test_unknown_commands_after_login_do_not_disconnect():
    conn, _ = make()
    login(conn)
    for word in ("FOO", "bar baz", "LAST", "XTND"):
        assert say(conn, word) == f"-ERR Unknown command: {word.split()[0].upper()}\r\n".encode()
    assert say(conn, "") == b"-ERR Unknown command.\r\n"
    assert conn.state is State.TRANSACTION


# -- UPDATE -------------------------------------------------------------------------
def test_quit_deletes_only_in_update():
    conn, backend = make()
    login(conn)
    say(conn, "DELE 1")
    folder = backend.store("alice").folder("INBOX")
    assert len(folder.messages()) == 2           # still there: only marked
    acts = conn.receive_data(b"QUIT\r\n")
    assert wire(acts) == b"+OK Logging out, messages deleted.\r\n"
    assert conn.state is State.CLOSED and isinstance(acts[-1], Close)
    ev = [a for a in acts if isinstance(a, Event)][0]
    assert (ev.kind, ev.fields["deleted"], ev.fields["messages"]) == ("logout", 1, 2)
    assert [m.uid for m in folder.messages()] == [2]


def test_quit_without_deletions():
    conn, backend = make()
    login(conn)
    say(conn, "RETR 2")
    assert say(conn, "QUIT") == b"+OK Logging out.\r\n"
    from labmail.store import SEEN
    assert backend.store("alice").folder("INBOX").info(2).flags == {SEEN}   # RETR marks \Seen


def test_dropped_connection_deletes_nothing():
    conn, backend = make()
    login(conn)
    say(conn, "DELE 1")
    say(conn, "DELE 2")
    acts = conn.connection_lost()
    assert conn.state is State.CLOSED
    assert [a.fields["reason"] for a in acts if isinstance(a, Event)] == ["Connection closed"]
    assert len(backend.store("alice").folder("INBOX").messages()) == 2
    # and the lock is free again
    again = POP3Connection(backend, Settings())
    again.start()
    assert wire(again.receive_data(b"USER alice\r\nPASS secret\r\n")).endswith(b"Logged in.\r\n")


# -- line handling -------------------------------------------------------------------
def test_pipelining_and_split_packets():
    conn, _ = make()
    out = b""
    for byte in b"USER alice\r\nPASS secret\r\nNOOP\r\n":
        out += wire(conn.receive_data(bytes([byte])))
    assert out == b"+OK\r\n+OK Logged in.\r\n+OK\r\n"
    assert wire(conn.receive_data(b"NOOP\nNOOP\r\n")) == b"+OK\r\n+OK\r\n"   # bare LF too


def test_lines_longer_than_rfc2449_minimum_are_accepted():
    # RFC 2449 section 4: 255 octets is a minimum; Dovecot accepts more.
    conn, _ = make()
    assert say(conn, "X" * 300) == b"-ERR Unknown command.\r\n"
    login(conn)
    long = "X" * 1000
    assert say(conn, long) == f"-ERR Unknown command: {long}\r\n".encode()


def test_over_long_line_before_login_closes():
    conn, _ = make()
    acts = conn.receive_data(b"X" * (MAX_LINE_PREAUTH + 10) + b"\r\n")
    assert wire(acts) == b"" and isinstance(acts[-1], Close)
    ev = [a for a in acts if isinstance(a, Event)][0]
    assert ev.fields["reason"] == "Input buffer full"


def test_over_long_line_after_login_closes_without_deleting():
    conn, backend = make()
    login(conn)
    say(conn, "DELE 1")
    acts = conn.receive_data(b"X" * (MAX_LINE + 100))      # not even a complete line
    assert isinstance(acts[-1], Close)
    assert [a.fields["reason"] for a in acts if isinstance(a, Event)] == ["Input line too long"]
    assert len(backend.store("alice").folder("INBOX").messages()) == 2


def test_empty_maildrop():
    conn, _ = make(mail={})
    login(conn)
    assert say(conn, "STAT") == b"+OK 0 0\r\n"
    assert say(conn, "LIST") == b"+OK 0 messages:\r\n.\r\n"
    assert say(conn, "UIDL") == b"+OK\r\n.\r\n"
    assert say(conn, "QUIT") == b"+OK Logging out.\r\n"


def test_ssl_required_refuses_every_login_before_tls():
    conn, _ = make(Settings(greeting="Dovecot ready.", secured=False, tls_available=True,
                            ssl_required=True, apop_challenge=CHALLENGE))
    assert say(conn, "USER alice") == (b"-ERR [AUTH] Plaintext authentication disallowed on "
                                       b"non-secure (SSL/TLS) connections.\r\n")
    needs_tls = b"-ERR [AUTH] Authentication not allowed until SSL/TLS is enabled.\r\n"
    assert say(conn, "AUTH PLAIN AGFsaWNlAHNlY3JldA==") == needs_tls
    assert say(conn, "APOP alice " + "0" * 32) == needs_tls
    conn.receive_data(b"STLS\r\n")
    conn.tls_started()
    login(conn)


def test_ssl_required_still_trusts_a_secured_connection():
    conn, _ = make(Settings(greeting="Dovecot ready.", secured=True, ssl_required=True))
    login(conn)


def test_message_expunged_by_another_client_meanwhile():
    conn, backend = make(lock=False)
    login(conn)
    folder = backend.store("alice").folder("INBOX")
    folder.expunge([1])                       # an IMAP client removed it
    assert say(conn, "RETR 1").startswith(b"-ERR [SYS/TEMP]")
    assert say(conn, "RETR 2").startswith(b"+OK")
    assert say(conn, "QUIT") == b"+OK Logging out.\r\n"

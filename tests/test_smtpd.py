"""The lab's smtpd over real sockets: delivery, Postfix replies, bad input."""
from __future__ import annotations

import email
import smtplib
import socket

from conftest import wait_for

MSG = b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: hello\r\n\r\nHi Alice!\r\n"


class Raw:
    """A raw SMTP client, as telnet would be: lines in, replies out."""

    def __init__(self, addr, source=None):
        self.sock = socket.create_connection(addr, timeout=5, source_address=source)
        self.f = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self):
        lines = []
        while True:
            line = self.f.readline().decode().rstrip("\r\n")
            lines.append(line)
            if line[3:4] != "-":
                return "\n".join(lines)

    def send(self, data: bytes):
        self.sock.sendall(data)

    def cmd(self, line: str) -> str:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


def _files(host, user="alice"):
    host.settle()
    return sorted((host.maildir_path(user) / "new").iterdir())


def test_message_delivered_to_maildir_with_trace_headers(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    [path] = _files(host)
    msg = email.message_from_bytes(path.read_bytes())
    assert msg["Return-Path"] == "<bob@example.org>"
    assert msg["Delivered-To"] == "alice@example.com"
    received = " ".join(msg["Received"].split())
    assert received.startswith("from laptop (localhost [127.0.0.1]) by mail.example.com (labmail) "
                               "with ESMTP id ")
    assert "for <alice@example.com>; Fri, 27 Nov 2026 09:00:00 +0000 (UTC)" in received
    assert msg["Subject"] == "hello"
    assert msg.get_payload() == "Hi Alice!\r\n" or msg.get_payload() == "Hi Alice!\n"


def test_queued_reply_names_the_queue_id_from_the_received_header(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    assert c.cmd("MAIL FROM:<bob@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"
    assert c.cmd("DATA") == "354 End data with <CR><LF>.<CR><LF>"
    c.send(MSG + b".\r\n")
    reply = c.reply()
    assert reply.startswith("250 2.0.0 Ok: queued as ")
    qid = reply.rsplit(" ", 1)[1]
    assert f"id {qid}" in _files(host)[0].read_text()
    assert c.cmd("QUIT") == "221 2.0.0 Bye"


def test_greeting_and_ehlo_keywords(host):
    c = Raw(host.endpoints["smtp"])
    assert c.greeting == "220 mail.example.com ESMTP labmail"
    lines = c.cmd("EHLO laptop").split("\n")
    assert lines[0] == "250-mail.example.com"
    keywords = [ln[4:] for ln in lines[1:]]
    for kw in ("PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8"):
        assert kw in keywords
    assert lines[-1].startswith("250 ")


def test_mail_without_helo_is_accepted_as_postfix_does(host):
    c = Raw(host.endpoints["smtp"])
    assert c.cmd("MAIL FROM:<bob@example.org>") == "250 2.1.0 Ok"


def test_unknown_user_rejected_with_postfix_text(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    c.cmd("MAIL FROM:<bob@example.org>")
    assert c.cmd("RCPT TO:<carol@example.com>") == (
        "550 5.1.1 <carol@example.com>: Recipient address rejected: "
        "User unknown in local recipient table")
    assert "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <carol@example.com>" \
        in host.maillog.read()


def test_relay_from_a_stranger_is_refused(host):
    c = Raw(host.endpoints["smtp"], source=("127.0.0.9", 0))
    c.cmd("EHLO stranger")
    c.cmd("MAIL FROM:<spam@example.net>")
    assert c.cmd("RCPT TO:<victim@example.org>") == \
        "454 4.7.1 <victim@example.org>: Relay access denied"
    assert "NOQUEUE: reject: RCPT from unknown[127.0.0.9]: 454 4.7.1" in host.maillog.read()
    # a stranger may still deliver to our own users
    assert c.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"


def test_postmaster_alias_reaches_root(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["postmaster@example.com"], MSG)
    assert len(host.mailbox("root")) == 1
    assert "orig_to=<postmaster@example.com>" in host.maillog.read()


def test_unknown_command_and_bad_syntax_then_session_goes_on(host):
    c = Raw(host.endpoints["smtp"])
    assert c.cmd("FOO bar") == "500 5.5.2 Error: command not recognized"
    assert c.cmd("") == "500 5.5.2 Error: bad syntax"
    assert c.cmd("HELP") == "500 5.5.2 Error: command not recognized"
    assert c.cmd("RCPT TO:<alice@example.com>") == "503 5.5.1 Error: need MAIL command"
    c.cmd("RSET")
    assert c.cmd("MAIL FROM:<bob@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("MAIL FROM:<bob@example.org>") == "503 5.5.1 Error: nested MAIL command"
    assert c.cmd("DATA") == "554 5.5.1 Error: no valid recipients"   # MAIL given, no RCPT
    assert c.cmd("RCPT TO:<alice@example.com>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    c.send(MSG + b".\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as")


def test_command_line_over_the_limit_gets_500_and_session_continues(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    assert c.cmd("MAIL FROM:<" + "a" * 1100 + "@example.org>") == "500 5.5.2 Error: line too long"
    assert c.cmd("MAIL FROM:<bob@example.org>") == "250 2.1.0 Ok"


def test_data_line_over_1000_octets_is_kept_whole_as_postfix_does(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    c.cmd("MAIL FROM:<bob@example.org>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(b"Subject: long\r\n\r\n" + b"x" * 3000 + b"\r\n.\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as")
    assert b"\r\n" + b"x" * 3000 + b"\r\n" in _files(host)[0].read_bytes()


def test_data_line_over_the_lab_limit_is_refused_nothing_delivered(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    c.cmd("MAIL FROM:<bob@example.org>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(b"Subject: huge\r\n\r\n" + b"x" * 70000 + b"\r\n.\r\n")
    assert c.reply().startswith("500 5.5.2 ")
    assert _files(host) == []
    assert c.cmd("NOOP") == "250 2.0.0 Ok"


def test_null_sender_ip_literal_trailing_dot_and_bare_names(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    assert c.cmd("MAIL FROM:<>") == "250 2.1.0 Ok"
    assert c.cmd(f"RCPT TO:<alice@[{host.ip}]>") == "250 2.1.5 Ok"     # our own address
    assert c.cmd("RCPT TO:<alice@example.com.>") == "250 2.1.5 Ok"
    assert c.cmd("RCPT TO:<bob>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: bounce-like\r\n\r\nx\r\n.\r\n")
    assert c.reply().startswith("250")
    host.settle()
    log = host.maillog.read()
    assert "from=<>, size=" in log
    assert "to=<bob@mail.example.com>" in log
    assert f"to=<alice@[{host.ip}]>" in log and "status=sent (delivered to maildir)" in log


def test_message_over_size_limit(lab):
    h = lab.add_host("mail.example.com", users={"alice": "x"}, main_cf=(
        "compatibility_level = 3.6\nmyhostname = mail.example.com\nmydestination = $myhostname, $mydomain\n"
        "home_mailbox = Maildir/\nmessage_size_limit = 2000\n"))
    lab.start()
    c = Raw(h.endpoints["smtp"])
    assert "250-SIZE 2000" in c.cmd("EHLO laptop")
    assert c.cmd("MAIL FROM:<bob@example.org> SIZE=5000") == "552 5.3.4 Message size exceeds fixed limit"
    assert c.cmd("MAIL FROM:<bob@example.org> SIZE=500") == "250 2.1.0 Ok"
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(b"Subject: big\r\n\r\n" + (b"y" * 70 + b"\r\n") * 60 + b".\r\n")
    assert c.reply() == "552 5.3.4 Message size exceeds fixed limit"
    assert not list((h.maildir_path("alice") / "new").iterdir())
    assert c.cmd("MAIL FROM:<bob@example.org>") == "250 2.1.0 Ok"


def test_dot_stuffing_is_undone(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    c.cmd("MAIL FROM:<bob@example.org>")
    c.cmd("RCPT TO:<alice@example.com>")
    c.cmd("DATA")
    c.send(b"Subject: dots\r\n\r\n..leading dot\r\n.\r\n")
    assert c.reply().startswith("250")
    assert b"\r\n.leading dot\r\n" in _files(host)[0].read_bytes()


def test_pipelined_commands_in_one_packet(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    c.send(b"MAIL FROM:<bob@example.org>\r\nRCPT TO:<alice@example.com>\r\n"
           b"RCPT TO:<nobody@example.com>\r\nDATA\r\n")
    assert c.reply() == "250 2.1.0 Ok"
    assert c.reply() == "250 2.1.5 Ok"
    assert c.reply().startswith("550 5.1.1")
    assert c.reply().startswith("354")
    c.send(MSG + b".\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as")


def test_thousand_messages_over_one_connection_give_thousand_files(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        for i in range(1000):
            s.sendmail("bob@example.org", ["alice@example.com"],
                       MSG.replace(b"hello", f"hello {i}".encode()))
    files = _files(host)
    assert len(files) == 1000
    subjects = {email.message_from_bytes(p.read_bytes())["Subject"] for p in files}
    assert subjects == {f"hello {i}" for i in range(1000)}


def test_transcript_records_the_dialogue(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    t = host.last_transcript()
    text = t.text()
    assert text.splitlines()[0] == "S: 220 mail.example.com ESMTP labmail"
    assert "C: ehlo laptop" in text
    assert "C: mail FROM:<bob@example.org> size=" in text
    assert "C: Subject: hello" in text
    assert "S: 221 2.0.0 Bye" in text
    assert t.peer[0] == "127.0.0.1"
    assert "<div" in t._repr_html_()


def test_maillog_has_postfix_lines(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    host.settle()
    log = host.maillog.read()
    assert "postfix/smtpd[" in log and "]: connect from localhost[127.0.0.1]" in log
    assert ": client=localhost[127.0.0.1]" in log
    assert "postfix/qmgr[" in log and "from=<bob@example.org>, size=" in log
    assert "to=<alice@example.com>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, " \
           "status=sent (delivered to maildir)" in log
    line = "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
    assert wait_for(lambda: line in host.maillog.read())


def test_missing_message_id_and_date_added_for_local_clients(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], b"Subject: bare\r\n\r\nbody\r\n")
    msg = email.message_from_bytes(_files(host)[0].read_bytes())
    assert msg["Message-Id"].endswith("@mail.example.com>")
    assert msg["Date"] == "Fri, 27 Nov 2026 09:00:00 +0000 (UTC)"
    assert msg["From"] == "bob@example.org"


def test_smtputf8_and_8bitmime(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        s.sendmail("bob@example.org", ["alice@example.com"],
                   "Subject: café\r\n\r\nnaïve\r\n".encode("utf-8"),
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    assert "naïve".encode() in _files(host)[0].read_bytes()


def test_server_state_machine_follows_the_session(host):
    c = Raw(host.endpoints["smtp"])
    c.cmd("EHLO laptop")
    c.cmd("MAIL FROM:<bob@example.org>")
    c.cmd("RCPT TO:<alice@example.com>")
    conn = next(iter(host._connections))
    assert conn.state.state.name == "RCPT"
    c.cmd("RSET")
    assert conn.state.state.name == "READY"

"""The smtp transport over real sockets: an aiosmtpd peer on a free port."""
from __future__ import annotations

import asyncio

import pytest
from aiosmtpd.smtp import SMTP

from labmail.clock import Clock, IdGenerator
from labmail.log import MailLog
from labmail.mta.qmgr import QmgrSettings, QueueManager
from labmail.mta.queue import Queue, QueueFile, Recipient
from labmail.mta.smtpclient import SmtpTransport, dot_stuff, parse_relayhost
from labmail.net.resolver import HOST_NOT_FOUND, TRY_AGAIN, DNSLookupError


class Peer:
    """Records what it receives; replies per recipient prefix."""

    def __init__(self):
        self.got = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("busy"):
            return "450 4.2.0 Busy"
        if address.startswith("slow"):
            return "450 Try later"
        if address.startswith("nobody"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if address.startswith("multi"):
            return "550-5.7.1 first line\r\n550 5.7.1 second line"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                         list(envelope.mail_options)))
        return "250 2.0.0 Ok: queued as 4AB12C0D3E"


async def start_peer(ip="127.0.0.1", handler=None):
    handler = handler or Peer()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="mx.example.org"), ip, 0)
    return server, server.sockets[0].getsockname()[1], handler


async def dead_port(ip="127.0.0.1"):
    srv = await asyncio.get_running_loop().create_server(asyncio.Protocol, ip, 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    return port


def message(rcpt="bob@example.org", content=b"Subject: hi\r\n\r\n.leading dot\r\nbody\r\n"):
    return QueueFile("0123456789A", "alice@example.com", [Recipient(rcpt, rcpt)], content), Recipient(rcpt, rcpt)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def transport(ports, mx=None, **kw):
    async def lookup(domain):
        if mx is None:
            return [(10, "mx.example.org", "127.0.0.1")]
        if isinstance(mx, Exception):
            raise mx
        return mx
    return SmtpTransport(myhostname="mail.example.com", mx=lookup,
                         port=lambda ip: ports[ip], connect_timeout=2, command_timeout=2, **kw)


def test_helpers():
    assert parse_relayhost("[127.0.0.1]:2599", 25) == ("127.0.0.1", 2599, False)
    assert parse_relayhost("smarthost.example", 25) == ("smarthost.example", 25, True)
    assert dot_stuff(b"a\n.b\n..c") == b"a\r\n..b\r\n...c\r\n"


def test_sent_with_esmtp_and_dot_stuffing():
    async def main():
        server, port, peer = await start_peer()
        qf, r = message()
        out = await transport({"127.0.0.1": port}).deliver(qf, r)
        server.close()
        return out, port, peer
    out, port, peer = run(main())
    assert (out.status, out.dsn, out.relay, out.text) == (
        "sent", "2.0.0", f"mx.example.org[127.0.0.1]:{port}", "250 2.0.0 Ok: queued as 4AB12C0D3E")
    sender, rcpts, content, opts = peer.got[0]
    assert (sender, rcpts) == ("alice@example.com", ["bob@example.org"])
    assert b"\r\n.leading dot\r\n" in content           # un-stuffed by the peer
    assert any(o.startswith("SIZE=") for o in opts)


def test_mx_preference_and_fallback_to_next_mx():
    async def main():
        server, port, peer = await start_peer("127.0.0.2")
        dead = await dead_port()
        log = MailLog_()
        t = transport({"127.0.0.1": dead, "127.0.0.2": port},
                      mx=[(20, "backup.example.org", "127.0.0.2"), (10, "primary.example.org", "127.0.0.1")],
                      maillog=log)
        qf, r = message()
        out = await t.deliver(qf, r)
        server.close()
        return out, dead, port, log
    out, dead, port, log = run(main())
    assert out.status == "sent" and out.relay == f"backup.example.org[127.0.0.2]:{port}"
    assert log.lines == [("postfix/smtp", f"connect to primary.example.org[127.0.0.1]:{dead}: Connection refused")]


class MailLog_:
    def __init__(self):
        self.lines = []

    def write(self, program, message):
        self.lines.append((program, message))


def test_all_refused_is_deferred():
    async def main():
        dead = await dead_port()
        qf, r = message()
        return await transport({"127.0.0.1": dead}).deliver(qf, r), dead
    out, dead = run(main())
    assert (out.status, out.dsn, out.relay) == ("deferred", "4.4.1", "none")
    assert out.text == f"connect to mx.example.org[127.0.0.1]:{dead}: Connection refused"


@pytest.mark.parametrize("rcpt,status,dsn,reply", [
    ("busy@example.org", "deferred", "4.2.0", "450 4.2.0 Busy"),
    ("slow@example.org", "deferred", "4.0.0", "450 Try later"),
    ("nobody@example.org", "bounced", "5.1.1",
     "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"),
    ("multi@example.org", "bounced", "5.7.1", "550-5.7.1 first line 550 5.7.1 second line"),
])
def test_remote_replies_map_to_postfix_outcomes(rcpt, status, dsn, reply):
    async def main():
        server, port, _ = await start_peer()
        qf, r = message(rcpt)
        out = await transport({"127.0.0.1": port}).deliver(qf, r)
        server.close()
        return out, port
    out, port = run(main())
    assert (out.status, out.dsn) == (status, dsn)
    assert out.relay == f"mx.example.org[127.0.0.1]:{port}"
    assert out.text == f"host mx.example.org[127.0.0.1] said: {reply} (in reply to RCPT TO command)"
    assert out.diag == f"smtp; {reply}" and out.remote_mta == "mx.example.org"


def test_dns_failures():
    async def main():
        qf, r = message("bob@nosuch.invalid")
        hard = await transport({}, mx=DNSLookupError("nosuch.invalid", "MX", HOST_NOT_FOUND)).deliver(qf, r)
        soft = await transport({}, mx=DNSLookupError("nosuch.invalid", "MX", TRY_AGAIN)).deliver(qf, r)
        no_a = await transport({}, mx=[(10, "mx.nosuch.invalid", [])]).deliver(qf, r)
        return hard, soft, no_a
    hard, soft, no_a = run(main())
    assert (hard.status, hard.dsn, hard.relay) == ("bounced", "5.4.4", "none")
    assert hard.text == ("Host or domain name not found. Name service error for "
                         "name=nosuch.invalid type=MX: Host not found")
    assert (soft.status, soft.dsn) == ("deferred", "4.4.3")
    assert no_a.status == "bounced" and "name=mx.nosuch.invalid type=A" in no_a.text


def test_relayhost_skips_mx_and_loop_detection():
    async def main():
        server, port, peer = await start_peer()
        t = SmtpTransport(myhostname="mail.example.com", mx=None,
                          relayhost=f"[127.0.0.1]:{port}", connect_timeout=2)
        qf, r = message("someone@far.example")
        out = await t.deliver(qf, r)
        looping = transport({"127.0.0.1": 2525}, my_addresses=[("127.0.0.1", 2525)])
        loop_out = await looping.deliver(qf, r)
        server.close()
        return out, loop_out, port
    out, loop_out, port = run(main())
    assert out.status == "sent" and out.relay == f"127.0.0.1[127.0.0.1]:{port}"
    assert (loop_out.status, loop_out.dsn, loop_out.text) == (
        "bounced", "5.4.6", "mail for far.example loops back to myself")


def test_greeting_refusal_and_lost_connection():
    async def raw_server(reply):
        async def handle(reader, writer):
            if reply:
                writer.write(reply)
                await writer.drain()
            writer.close()
        srv = await asyncio.start_server(handle, "127.0.0.1", 0)
        return srv, srv.sockets[0].getsockname()[1]

    async def main():
        s1, p1 = await raw_server(b"554 5.7.1 No SMTP service here\r\n")
        s2, p2 = await raw_server(b"")
        qf, r = message()
        a = await transport({"127.0.0.1": p1}).deliver(qf, r)
        b = await transport({"127.0.0.1": p2}).deliver(qf, r)
        s1.close()
        s2.close()
        return a, b
    a, b = run(main())
    assert a.status == "bounced" and a.text == (
        "host mx.example.org[127.0.0.1] refused to talk to me: 554 5.7.1 No SMTP service here")
    assert (b.status, b.dsn) == ("deferred", "4.4.2")
    assert b.text == "lost connection with mx.example.org[127.0.0.1] while receiving the initial server greeting"


def test_down_host_deferred_then_flushed_after_restart_delivered_once(tmp_path):
    """qmgr + smtp transport: destination down, mail waits, comes back, flush."""
    async def main():
        clock = Clock.fixed("2026-11-27T09:00:00+00:00")
        queue = Queue(tmp_path, clock, IdGenerator(9))
        log = MailLog(tmp_path / "maillog", "mail.example.com", clock, IdGenerator(9))
        dead = await dead_port("127.0.0.3")
        ports = {"127.0.0.3": dead}
        t = SmtpTransport(myhostname="mail.example.com", maillog=log, clock=clock,
                          mx=_fixed_mx([(10, "mail.example.org", "127.0.0.3")]),
                          port=lambda ip: ports[ip], connect_timeout=2)
        qmgr = QueueManager(queue, t.deliver, clock=clock, maillog=log,
                            settings=QmgrSettings(myhostname="mail.example.com"), poll_interval=0.01)
        await qmgr.start()
        qf = queue.enqueue("alice@example.com", ["bob@example.org"], b"Subject: x\r\n\r\nhello\r\n")
        qmgr.submit(qf)
        await qmgr.idle()
        assert queue.locate(qf.queue_id) == "deferred"
        server, port, peer = await start_peer("127.0.0.3")       # the destination is back
        ports["127.0.0.3"] = port
        qmgr.flush()
        qmgr.scan()
        await qmgr.idle()
        qmgr.scan()
        await qmgr.idle()
        await qmgr.stop()
        server.close()
        return queue, log, peer, qf, dead, port
    queue, log, peer, qf, dead, port = run(main())
    assert len(peer.got) == 1 and len(queue) == 0
    text = log.read()
    assert f"postfix/smtp[" in text
    assert (f"{qf.queue_id}: to=<bob@example.org>, relay=none, delay=0, delays=0/0/0/0, "
            f"dsn=4.4.1, status=deferred (connect to mail.example.org[127.0.0.3]:{dead}: "
            "Connection refused)") in text
    assert (f"{qf.queue_id}: to=<bob@example.org>, relay=mail.example.org[127.0.0.3]:{port}, "
            "delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4AB12C0D3E)") in text


def _fixed_mx(answer):
    async def mx(domain):
        return answer
    return mx


def test_starttls_when_offered(tmp_path):
    import ssl
    from labmail.net.certs import cert_pem, generate_key, key_pem, self_signed
    cert, key = self_signed("mx.example.org", key=generate_key("ec"))
    (tmp_path / "c.pem").write_bytes(cert_pem(cert))
    (tmp_path / "k.pem").write_bytes(key_pem(key))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    client_ctx = ssl.create_default_context()
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_NONE

    async def main():
        peer = Peer()
        server = await asyncio.get_running_loop().create_server(
            lambda: SMTP(peer, hostname="mx.example.org", tls_context=server_ctx), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        log = MailLog_()
        qf, r = message()
        out = await transport({"127.0.0.1": port}, tls_context=client_ctx, maillog=log).deliver(qf, r)
        server.close()
        return out, log, peer
    out, log, peer = run(main())
    assert out.status == "sent" and len(peer.got) == 1
    assert log.lines[0][1].startswith("Untrusted TLS connection established to mx.example.org[127.0.0.1]:")
    assert " with cipher " in log.lines[0][1]


def test_with_the_lab_dns_server_mx_preference_and_implicit_mx():
    """The transport takes the lab resolver's MXHost answers as they are."""
    from labmail.net.dns import LabDNS
    from labmail.net.resolver import LabResolver

    async def main():
        dns_server = LabDNS()
        dns_server.add("example.org", "MX", "20 backup.example.org")
        dns_server.add("example.org", "MX", "10 mail.example.org")
        dns_server.add("mail.example.org", "A", "127.0.0.3")
        dns_server.add("backup.example.org", "A", "127.0.0.4")
        dns_server.add("example.net", "A", "127.0.0.4")          # no MX: implicit MX
        addr = await dns_server.start("127.0.0.1", 0)
        resolver = LabResolver(*addr, timeout=2)
        primary, p_port, p_peer = await start_peer("127.0.0.3")
        backup, b_port, b_peer = await start_peer("127.0.0.4")
        t = SmtpTransport(myhostname="mail.example.com", mx=resolver.amx_hosts,
                          port=lambda ip: {"127.0.0.3": p_port, "127.0.0.4": b_port}[ip],
                          connect_timeout=2)
        qf, r = message("bob@example.org")
        first = await t.deliver(qf, r)
        primary.close()
        await primary.wait_closed()
        second = await t.deliver(qf, r)              # primary down: backup MX
        qf2, r2 = message("carol@example.net")
        third = await t.deliver(qf2, r2)
        qf3, r3 = message("dave@nosuch.example.org")
        fourth = await t.deliver(qf3, r3)
        backup.close()
        await dns_server.stop()
        return first, second, third, fourth, p_peer, b_peer
    first, second, third, fourth, p_peer, b_peer = run(main())
    assert first.relay.startswith("mail.example.org[127.0.0.3]:")
    assert second.status == "sent" and second.relay.startswith("backup.example.org[127.0.0.4]:")
    assert third.status == "sent" and third.relay.startswith("example.net[127.0.0.4]:")
    assert (len(p_peer.got), len(b_peer.got)) == (1, 2)
    assert (fourth.status, fourth.dsn) == ("bounced", "5.4.4")
    # as Postfix: an MX lookup that finds nothing falls back to A, whose error is reported
    assert fourth.text == ("Host or domain name not found. Name service error for "
                           "name=nosuch.example.org type=A: Host not found")


def test_relayhost_name_without_port_uses_the_hosts_own_smtp_port():
    async def main():
        server, port, peer = await start_peer("127.0.0.5")

        async def addresses(name):
            assert name == "smarthost.example.com"
            return ["127.0.0.5"]
        t = SmtpTransport(myhostname="mail.example.com", mx=None, addresses=addresses,
                          relayhost="[smarthost.example.com]", port=lambda ip: {"127.0.0.5": port}[ip])
        qf, r = message("x@far.example")
        out = await t.deliver(qf, r)
        server.close()
        return out, port
    out, port = run(main())
    assert out.status == "sent" and out.relay == f"smarthost.example.com[127.0.0.5]:{port}"


def test_transcript_of_the_client_session():
    from labmail.trace import TranscriptStore

    async def main():
        server, port, peer = await start_peer()
        store = TranscriptStore(Clock.fixed("2026-11-27T09:00:00+00:00"))
        qf, r = message()
        out = await transport({"127.0.0.1": port}, trace=store).deliver(qf, r)
        server.close()
        return out, store
    out, store = run(main())
    [t] = store.list("smtp-client")
    sent = t.client_lines()
    assert sent[:3] == ["EHLO mail.example.com", "MAIL FROM:<alice@example.com> SIZE=35",
                        "RCPT TO:<bob@example.org>"]
    assert "..leading dot" in sent and sent[-1] == "QUIT"
    assert t.server_lines()[0].startswith("220 mx.example.org")

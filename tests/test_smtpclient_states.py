"""The sans-IO SMTP client: exact bytes in, exact actions out (no sockets)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from labmail.mta.smtp_client_states import (ClientConnection, Closed, Delivered, Failed, Reply,
                                            Send, State, UpgradeTLS)

SERVER = [
    b"220 mx.example.org ESMTP\r\n",
    b"250-mx.example.org\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 PIPELINING\r\n",
    b"250 2.1.0 Ok\r\n",
    b"250 2.1.5 Ok\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 Ok: queued as 4AB12C0D3E\r\n",
    b"221 2.0.0 Bye\r\n",
]


def conn(**kw):
    args = dict(helo_name="mail.example.com", sender="alice@example.com",
                recipient="bob@example.org", content=b"Subject: t\r\n\r\n.dot\r\n")
    args.update(kw)
    return ClientConnection(**args)


def sent(actions):
    return b"".join(a.data for a in actions if isinstance(a, Send))


def test_a_whole_delivery_byte_for_byte():
    c = conn()
    out = [sent(c.receive_data(chunk)) for chunk in SERVER]
    assert out == [
        b"EHLO mail.example.com\r\n",
        b"MAIL FROM:<alice@example.com> SIZE=20\r\n",
        b"RCPT TO:<bob@example.org>\r\n",
        b"DATA\r\n",
        b"Subject: t\r\n\r\n..dot\r\n.\r\n",
        b"QUIT\r\n",
        b"",
    ]
    assert c.state is State.DONE
    assert c.extensions == ["SIZE 10240000", "8BITMIME", "PIPELINING"]


def test_reply_events_and_delivered():
    c = conn()
    actions = []
    for chunk in SERVER:
        actions += c.receive_data(chunk)
    replies = [a for a in actions if isinstance(a, Reply)]
    assert [r.code for r in replies] == [220, 250, 250, 250, 354, 250, 221]
    assert replies[1].text.startswith("250-mx.example.org 250-SIZE 10240000")
    [d] = [a for a in actions if isinstance(a, Delivered)]
    assert d.reply.text == "250 2.0.0 Ok: queued as 4AB12C0D3E"
    assert isinstance(actions[-1], Closed)


def test_helo_fallback_and_no_size_parameter():
    c = conn()
    c.receive_data(b"220 old.example.org SMTP\r\n")
    assert sent(c.receive_data(b"502 5.5.1 Command not implemented\r\n")) == b"HELO mail.example.com\r\n"
    assert sent(c.receive_data(b"250 old.example.org\r\n")) == b"MAIL FROM:<alice@example.com>\r\n"


def test_starttls_then_ehlo_again():
    c = conn(use_tls=True)
    c.receive_data(b"220 mx ESMTP\r\n")
    assert sent(c.receive_data(b"250-mx\r\n250 STARTTLS\r\n")) == b"STARTTLS\r\n"
    actions = c.receive_data(b"220 2.0.0 Ready to start TLS\r\n")
    assert any(isinstance(a, UpgradeTLS) for a in actions)
    assert sent(c.tls_started()) == b"EHLO mail.example.com\r\n"
    assert sent(c.receive_data(b"250-mx\r\n250 STARTTLS\r\n")) == b"MAIL FROM:<alice@example.com>\r\n"


def test_failures_are_named_by_state():
    c = conn()
    for chunk in SERVER[:3]:
        c.receive_data(chunk)
    actions = c.receive_data(b"550 5.1.1 <bob@example.org>: User unknown\r\n")
    [f] = [a for a in actions if isinstance(a, Failed)]
    assert (f.kind, f.state, f.reply.code, f.next_mx) == ("said", State.RCPT, 550, False)
    assert sent(actions) == b"QUIT\r\n"

    g = conn()
    [f] = [a for a in g.receive_data(b"554 5.7.1 go away\r\n") if isinstance(a, Failed)]
    assert (f.kind, f.next_mx) == ("refused", True)

    h = conn()
    h.receive_data(b"220 mx\r\n")
    [f] = h.connection_lost()
    assert (f.kind, f.state, f.next_mx) == ("lost", State.EHLO, True)


def test_size_limit():
    c = conn(content=b"x" * 100)
    c.receive_data(b"220 mx\r\n")
    actions = c.receive_data(b"250-mx\r\n250 SIZE 50\r\n")
    [f] = [a for a in actions if isinstance(a, Failed)]
    assert (f.kind, f.limit) == ("size", 50)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_any_chunking_gives_the_same_conversation(sizes):
    whole = b"".join(SERVER)
    chunks, i = [], 0
    for n in sizes:
        chunks.append(whole[i:i + n])
        i += n
    chunks.append(whole[i:])
    c = conn()
    out = b"".join(sent(c.receive_data(ch)) for ch in chunks if ch)
    ref = conn()
    assert out == b"".join(sent(ref.receive_data(ch)) for ch in SERVER)
    assert c.state is State.DONE


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_from_the_server_never_crashes(data):
    c = conn()
    c.receive_data(data)
    c.connection_lost()

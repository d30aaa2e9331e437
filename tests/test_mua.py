"""labmail.mua: the mailx-like helper builds real MIME and submits it over SMTP."""
from __future__ import annotations

import email
import email.policy

import pytest

from labmail import mua
from conftest import wait_for


def _two(lab):
    a = lab.add_host("mail.example.com", users={"alice": "x", "bob": "y"})
    b = lab.add_host("mail.example.org", users={"carol": "z"})
    lab.start()
    return a, b


def test_compose_plain_message_has_mailx_headers_and_no_message_id():
    msg = mua.compose("bob@example.org", "Hi", "hello", sender="Alice <alice@example.com>",
                      date="Fri, 27 Nov 2026 09:00:00 +0000")
    assert msg["From"] == "Alice <alice@example.com>"
    assert msg["To"] == "bob@example.org"
    assert msg["Subject"] == "Hi"
    assert msg["Message-Id"] is None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content() == "hello\n"


def test_compose_with_attachments_is_multipart_mixed(tmp_path):
    txt = tmp_path / "notes.txt"
    txt.write_text("line one\n")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\x00\xff binary")
    msg = mua.compose(["bob@example.org"], "Files", "see attached", cc="carol@example.org",
                      attachments=[txt, pdf], boundary="XYZ")
    assert msg.get_content_type() == "multipart/mixed"
    assert msg.get_boundary() == "XYZ"
    assert msg["Cc"] == "carol@example.org"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/plain", "application/pdf"]
    assert [p.get_filename() for p in parts[1:]] == ["notes.txt", "report.pdf"]
    assert parts[2].get_content() == b"%PDF-1.4\x00\xff binary"
    assert all(p["MIME-Version"] is None for p in parts)
    # the bytes parse back to the same structure
    back = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert [p.get_filename() for p in back.iter_attachments()] == ["notes.txt", "report.pdf"]


def test_send_local_user_gets_the_message_with_attachment(lab, tmp_path):
    a, _ = _two(lab)
    f = tmp_path / "report.txt"
    f.write_text("42\n")
    sent = mua.send(a, "bob@example.com", subject="Test 1", body="hello bob",
                    sender="Alice <alice@example.com>", attachments=[f])
    assert sent.code == 250 and sent.queue_id and sent.reply.endswith(sent.queue_id)
    assert sent.sender == "alice@example.com"
    assert wait_for(lambda: len(a.mailbox("bob")) == 1)
    [msg] = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
             for m in a.mailbox("bob")]
    assert msg["Subject"] == "Test 1"
    assert msg["From"] == "Alice <alice@example.com>"
    assert msg["Return-Path"] == "<alice@example.com>"
    assert sent.queue_id in msg["Received"]
    # the MTA (cleanup) added the Message-Id, as for mailx
    assert msg["Message-Id"] == f"<20261127090000.{sent.queue_id}@mail.example.com>"
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "report.txt" and att.get_content() == "42\n"
    assert msg.get_body(("plain",)).get_content() == "hello bob\n"


def test_send_remote_crosses_to_the_other_host(lab):
    a, b = _two(lab)
    sent = mua.send(lab, "carol@example.org", subject="Remote", body="hi",
                    sender="alice@example.com", cc="bob@example.com")
    assert sorted(sent.recipients) == ["bob@example.com", "carol@example.org"]
    lab.settle()
    assert wait_for(lambda: len(b.mailbox("carol")) == 1)
    assert wait_for(lambda: len(a.mailbox("bob")) == 1)
    [msg] = list(b.mailbox("carol"))
    assert msg["Cc"] == "bob@example.com"
    assert len(msg.get_all("Received")) == 2


def test_send_without_sender_uses_root_at_the_host(lab):
    a, _ = _two(lab)
    sent = mua.send(a, "alice@example.com", subject="No -r", body="x")
    assert sent.sender == "root@mail.example.com"
    assert wait_for(lambda: len(a.mailbox("alice")) == 1)
    [msg] = list(a.mailbox("alice"))
    assert msg["From"] == "root@mail.example.com"      # completed by cleanup


def test_bcc_is_in_the_envelope_not_the_header(lab):
    a, _ = _two(lab)
    sent = mua.send(a, "alice@example.com", subject="B", body="x", bcc=["bob@example.com"])
    assert "bob@example.com" in sent.recipients
    assert wait_for(lambda: len(a.mailbox("bob")) == 1)
    [msg] = list(a.mailbox("bob"))
    assert msg["Bcc"] is None


def test_unknown_local_user_is_refused(lab):
    a, _ = _two(lab)
    import smtplib
    with pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        mua.send(a, "nobody@example.com", subject="x", body="y")
    assert exc.value.recipients["nobody@example.com"][0] == 550


def test_no_recipient_is_an_error(lab):
    a, _ = _two(lab)
    with pytest.raises(ValueError):
        mua.send(a, [], subject="x")


def test_mailx_command_sends_with_attachment(lab, tmp_path):
    import subprocess
    import sys
    a, _ = _two(lab)
    f = tmp_path / "data.csv"
    f.write_text("a,b\n1,2\n")
    ip, port = a.endpoints["smtp"]
    r = subprocess.run([sys.executable, "-m", "labmail", "mailx", "-s", "From the shell",
                        "-r", "Alice <alice@example.com>", "-a", str(f), "-v",
                        "--smtp", f"{ip}:{port}", "bob@example.com"],
                       input=b"hello from mailx\n", capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"250 2.0.0 Ok: queued as ")
    assert wait_for(lambda: len(a.mailbox("bob")) == 1)
    [msg] = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
             for m in a.mailbox("bob")]
    assert msg["Subject"] == "From the shell"
    assert [p.get_filename() for p in msg.iter_attachments()] == ["data.csv"]
    r = subprocess.run([sys.executable, "-m", "labmail", "mailx", "-s", "x", "--smtp",
                        f"{ip}:{port}", "nobody@example.com"], input=b"x\n",
                       capture_output=True, timeout=60)
    assert r.returncode == 1 and b"nobody@example.com: 550" in r.stderr

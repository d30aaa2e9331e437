"""The notebook tools, built headless: text and HTML renderings, and widgets driven by code."""
from __future__ import annotations

import smtplib
import subprocess
import sys

import pytest

from labmail.clock import Clock
from labmail.notebook import (LogView, MailClient, MainCfEditor, QueueMonitor, SequenceDiagram,
                              SpamExplorer, TranscriptView, filter_records, sparkline,
                              transcript_html, transcript_text)
from labmail.notebook.sequence import draw_sequence, sequence_steps
from labmail.notebook.transcript_view import line_kind
from labmail.trace import TranscriptStore

from conftest import wait_for


def _html_of(widget, cls_name="HTML"):
    """Every HTML widget's value inside *widget* (depth first)."""
    out = []
    stack = [widget]
    while stack:
        w = stack.pop(0)
        if type(w).__name__ == cls_name:
            out.append(w.value)
        stack[0:0] = list(getattr(w, "children", ()))
    return out


def _find(widget, cls_name, description=None):
    stack = [widget]
    while stack:
        w = stack.pop(0)
        if type(w).__name__ == cls_name and (description is None or
                                            getattr(w, "description", None) == description):
            return w
        stack[0:0] = list(getattr(w, "children", ()))
    raise LookupError(f"no {cls_name} {description or ''}")


def _send(host, subject="Hello", rcpt="alice@example.com"):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", [rcpt], f"Subject: {subject}\r\n\r\nhi\r\n")
    host.settle(sessions=True)


def test_importing_the_tools_imports_no_widgets_or_matplotlib():
    code = ("import sys, labmail, labmail.notebook; "
            "assert 'ipywidgets' not in sys.modules and 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- transcripts and the sequence diagram ---------------------------------------------
@pytest.fixture
def tls_transcript():
    t = TranscriptStore(Clock.fixed("2026-11-27T09:00:00+00:00")).open(
        "smtp", ("127.0.0.1", 5000), ("127.0.0.2", 25))
    for who, text in [("S", "220 mail ESMTP"), ("C", "EHLO laptop"), ("S", "250-mail"),
                      ("S", "250 STARTTLS"), ("C", "STARTTLS"), ("S", "220 2.0.0 Ready")]:
        (t.server if who == "S" else t.client)(text)
    t.start_tls("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    t.client("MAIL FROM:<a@b>")
    t.server("250 2.1.0 Ok")
    t.client("RCPT TO:<x@elsewhere>")
    t.server("554 5.7.1 <x@elsewhere>: Relay access denied")
    t.client("DATA")
    t.server("354 End data with <CR><LF>.<CR><LF>")
    t.begin_content()
    for line in ("Subject: x", "", "body", "."):
        t.client(line)
    t.server("250 2.0.0 Ok: queued as ABC")
    t.close()
    return t


def test_transcript_text_marks_tls_and_html_colours_speakers(tls_transcript):
    text = transcript_text(tls_transcript).splitlines()
    assert text[0] == "SMTP 127.0.0.1 -> 127.0.0.2:25"
    assert text[1] == "      S: 220 mail ESMTP"
    assert text[7].startswith("====== TLS handshake done: TLSv1.3")
    assert text[8] == "[TLS] C: MAIL FROM:<a@b>"
    html = transcript_html(tls_transcript)
    assert "class='lm-client'" in html and "class='lm-server'" in html
    assert "class='lm-error'" in html and "Relay access denied" in html
    assert html.count("&#128274;") == len(text) - 7       # the switch and every line after
    kinds = [line_kind(ln) for ln in tls_transcript.lines]
    assert kinds.count("tls") == 1 and kinds.count("error") == 1


def test_sequence_steps_text_and_figure(tls_transcript):
    steps = sequence_steps(tls_transcript)
    labels = [s.label for s in steps]
    assert labels[:4] == ["220 mail ESMTP", "EHLO laptop", "250 STARTTLS (+1)", "STARTTLS"]
    assert "TLS handshake" in labels and "message content (3 lines) ." in labels
    assert all(s.tls for s in steps[labels.index("TLS handshake"):])
    diagram = SequenceDiagram(tls_transcript)
    text = str(diagram)
    assert "EHLO laptop ---" in text and "<--" in text and "TLS handshake" in text
    assert "[TLS]" in text.splitlines()[-1]
    import matplotlib
    matplotlib.use("Agg")
    fig = draw_sequence(tls_transcript)
    ax = fig.axes[0]
    assert any(t.get_text() == "EHLO laptop" for t in ax.texts)
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_transcript_view_of_a_host(host):
    _send(host, "One")
    _send(host, "Two")
    view = TranscriptView(host, "smtp")
    assert str(view) == transcript_text(host.transcripts("smtp")[-1])
    assert "Subject: Two" in str(view)
    w = view.widget()
    picker = _find(w, "Dropdown", "session")
    assert len(picker.options) == 2
    picker.value = 0
    assert "Subject: One" in _html_of(w)[0]
    assert "(no session" in str(TranscriptView([]))


# -- log viewer ---------------------------------------------------------------------
def test_log_view_filters(host):
    _send(host, "Logged")
    wait_for(lambda: "status=sent" in host.maillog.path.read_text())
    sent = LogView(host, status="sent")
    lines = str(sent).splitlines()
    assert lines and all("status=sent" in ln for ln in lines)
    qid = sent.records()[-1].queue_id
    story = LogView(host, queue_id=qid).records()
    assert {r.service for r in story} >= {"smtpd", "cleanup", "qmgr", "local"}
    assert all(r.program == "postfix/smtpd" for r in LogView(host, program="smtpd").records())
    assert f"<b>{qid}</b>" in sent.html() and "#1d7a2e" in sent.html()
    assert len(LogView(host, tail=2).records()) == 2
    assert str(LogView(host, status="bounced")) == "(no matching log lines)"
    w = LogView(host).widget()
    _find(w, "Dropdown", "status").value = "sent"
    assert all("status=sent" in ln for ln in _html_of(w)[-1].split("</div>") if "status" in ln)
    assert filter_records(story, text="removed")[0].event == "removed"


# -- queue monitor ------------------------------------------------------------------
def test_queue_monitor_actions_and_sparkline(host):
    mon = QueueMonitor(host)
    assert str(mon) == "Mail queue is empty"
    qf = host.queue.enqueue("carol@example.com", ["dave@example.org"],
                            b"Subject: waiting\r\n\r\nhi\r\n")
    mon.sample()
    assert qf.queue_id in str(mon) and "dave@example.org" in str(mon)
    assert mon.hold(qf.queue_id)[-1] == "Placed on hold: 1 message"
    assert f"{qf.queue_id}!" in str(mon)
    assert "color:#777" in mon.html()                # held mail shown grey
    mon.release(qf.queue_id)
    assert f"{qf.queue_id}!" not in str(mon)
    w = mon.widget(interval=60)
    try:
        pick = _find(w, "SelectMultiple")
        assert pick.options == (qf.queue_id,)
        pick.value = (qf.queue_id,)
        _find(w, "Button", "delete").click()
        assert str(mon) == "Mail queue is empty"
        assert mon.messages[-1] == "postsuper: Deleted: 1 message"
        assert mon.history[-1] == 0 and max(mon.history) == 1
        assert sparkline(mon.history)[0] == "█" and sparkline(mon.history)[-1] == "▁"
        _find(w, "Button", "hold").click()            # nothing selected: a hint, no error
        assert "select queue ids first" in mon.messages[-1]
    finally:
        mon.stop()


def test_sparkline_scales_to_the_largest_value():
    assert sparkline([0, 0]) == "▁▁"
    assert sparkline([5]) == "█"
    assert len(sparkline(range(40))) == 40


# -- main.cf editor --------------------------------------------------------------------
def test_main_cf_editor_check_save_reload(host):
    ed = MainCfEditor(host)
    assert ed.check().ok
    before = host.config.get("mynetworks")
    ed.set("mynetworks", "127.0.0.1/33")
    assert "^^^ bad network" in str(ed)
    assert "/etc/postfix/main.cf, line" in ed.check_text()
    n = [ln for ln in str(ed).splitlines() if "127.0.0.1/33" in ln][0].split()[0]
    assert f"line {n}:" in ed.check_text()
    assert "background:#fadbd8" in ed.html()
    ed.save()
    assert ed.reload() is False
    assert any("bad network" in ln for ln in ed.log)
    assert host.config.get("mynetworks") == before           # old settings kept
    ed.set("mynetworks", "127.0.0.1/32")
    ed.save()
    assert ed.reload() is True
    assert ed.log[-1] == "postfix/postfix-script: refreshing the Postfix mail system"
    w = ed.widget()
    area = _find(w, "Textarea")
    area.value = area.value + "\nmydestinaton = localhost\n"
    _find(w, "Button", "check").click()
    assert "mydestinaton" in _html_of(w)[0]
    _find(w, "Button", "revert").click()
    assert "mydestinaton" not in area.value


# -- spam explorer -------------------------------------------------------------------
SCORES = [("spam", 12.0, "s1"), ("spam", 6.0, "s2"), ("spam", 3.5, "s3"),
          ("ham", -1.0, "h1"), ("ham", 2.0, "h2"), ("ham", 5.2, "h3")]


def test_spam_explorer_text_html_and_slider():
    ex = SpamExplorer(SCORES, threshold=5.0)
    assert str(ex).splitlines() == [
        "required_score 5.0 over 6 messages (3 spam, 3 ham)",
        "                 marked spam   marked ham",
        "  really spam              2            1",
        "  really ham               1            2",
        "precision 66.7%  recall 66.7%  ham marked as spam 33.3%"]
    assert [n for _, _, n in ex.wrong()] == ["h3", "s3"]
    assert [c.fp for _, c in ex.sweep([0.0, 5.0, 10.0])] == [2, 1, 0]
    w = ex.widget()
    _find(w, "FloatSlider").value = 6.0
    assert ex.threshold == 6.0 and ex.confusion().fp == 0
    assert "<b>6.0</b>" in _html_of(w)[0] and "0.0%" in _html_of(w)[0]


def test_spam_explorer_scores_the_course_corpus():
    ex = SpamExplorer()
    c = ex.confusion()
    assert c.tp + c.fn > 100 and c.fp + c.tn > 100
    assert len({lbl for lbl, _, _ in ex.scores}) == 2


# -- the mail client --------------------------------------------------------------------
def test_mail_client_sends_with_tls_and_reads_over_imap(host):
    mua = MailClient(host, "alice", "secret")
    assert mua.send("bob@example.com", "Hi Bob", "Lunch at noon?") == {}
    log = host.last_transcript("smtp")
    assert log.local[1] == host.endpoints["submission"][1]
    assert "STARTTLS" in log.client_lines() and any(c.startswith("AUTH") for c in log.client_lines())
    assert "submission port" in mua.log[-1] and "with STARTTLS" in mua.log[-1]
    host.settle()
    assert "Sent" in mua.folders() and mua.messages("Sent")[0].subject == "Hi Bob"
    mua.add_account(host, "bob", "hunter2")
    mua.use("bob@example.com")
    text = str(mua)
    assert text.splitlines()[0] == "bob@example.com on mail.example.com"
    assert "INBOX" in text and "Hi Bob" in text and " N " in text     # unread
    uid = mua.messages()[0].uid
    assert "From: alice@example.com" in mua.show(uid, "headers")
    assert mua.show(uid, "raw").startswith("Return-Path: <alice@example.com>")
    assert mua.show(uid, "mime") == "text/plain (16 bytes)"          # "Lunch at noon?\r\n"
    assert "\\Seen" in mua.messages()[0].flags                        # reading marks it


def test_mail_client_widget_sends_and_lists(host):
    mua = MailClient(host, "alice", "secret")
    mua.add_account(host, "bob", "hunter2")
    w = mua.widget()
    _find(w, "Text", "To").value = "alice@example.com"
    _find(w, "Text", "Subject").value = "Note to self"
    _find(w, "Textarea", "Body").value = "Buy milk."
    _find(w, "Button", "send").click()
    host.settle()
    boxes = [x for x in _all(w) if type(x).__name__ == "Select" and x.description != "folders"]
    _find(w, "Button", "get mail").click()
    wait_for(lambda: boxes[0].options and "Note to self" in boxes[0].options[0][0])
    assert "Note to self" in boxes[0].options[0][0]
    boxes[0].value = boxes[0].options[0][1]
    views = _find(w, "ToggleButtons")
    views.value = "mime"
    assert "text/plain" in [v for v in _html_of(w) if "text/plain" in v][0]
    _find(w, "Dropdown", "account").value = 1
    assert mua.account.user == "bob"


def _all(widget):
    out, stack = [], [widget]
    while stack:
        w = stack.pop(0)
        out.append(w)
        stack[0:0] = list(getattr(w, "children", ()))
    return out


def test_mail_client_attachment_shows_in_the_mime_tree(host, tmp_path):
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4 not really")
    mua = MailClient(host, "alice", "secret")
    mua.send("alice@example.com", "With a file", "See attached.", attach=[report])
    host.settle()
    uid = [s.uid for s in mua.messages() if s.subject == "With a file"][0]
    assert mua.show(uid, "mime").splitlines() == [
        "multipart/mixed", "├── text/plain (15 bytes)",         # "See attached.\r\n"
        "└── application/pdf name=report.pdf (19 bytes)"]


def test_mail_client_without_submission_uses_port_25(host):
    saved = host.endpoints.pop("submission")
    try:
        mua = MailClient(host, "alice", "secret")
        mua.send("bob@example.com", "Plain 25", "hi")
    finally:
        host.endpoints["submission"] = saved
    assert f"smtp port {host.endpoints['smtp'][1]} with STARTTLS" in mua.log[-1]


@pytest.mark.parametrize("module", [
    "labmail.notebook._ui", "labmail.notebook.transcript_view", "labmail.notebook.sequence",
    "labmail.notebook.logview", "labmail.notebook.queue_monitor", "labmail.notebook.maincf_editor",
    "labmail.notebook.spam_explorer", "labmail.notebook.mailclient", "labmail.firewall",
    "labmail.firewall.iptables", "labmail.firewall.firewalld"])
def test_docstring_examples_run(module):
    import doctest
    import importlib
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

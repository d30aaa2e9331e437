"""labmail.notebook: the telnet-like client, the state diagram and the renderers."""
from __future__ import annotations

import smtplib
import socket
import subprocess
import sys

import pytest

from labmail.mta.smtp_states import TRANSITIONS, SessionState, State
from labmail.notebook import (Dialogue, Reply, Telnet, command_pairs, edges, messages,
                              path_text, replay, replay_lines, show_transcript,
                              state_table_text, tree, wait_idle)

MSG = "From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nHello\r\n"


# -- Reply / Dialogue ---------------------------------------------------------

def test_reply_parts():
    r = Reply(["250-mail.example.com", "250-PIPELINING", "250 SMTPUTF8"])
    assert r.code == 250 and r.last == "250 SMTPUTF8" and r.enhanced == ""
    assert r == "250-mail.example.com\n250-PIPELINING\n250 SMTPUTF8"
    assert repr(r) == r.text
    bad = Reply(["550 5.1.1 <x@example.com>: Recipient address rejected"])
    assert (bad.code, bad.enhanced) == (550, "5.1.1")
    assert Reply(["354 End data with <CR><LF>.<CR><LF>"]).enhanced == ""
    assert Reply(["(connection closed by the server)"]).code == 0


def test_dialogue_shows_both_sides():
    d = Dialogue([("HELO laptop", Reply(["250 mail.example.com"])),
                  ("RCPT TO:<a@b>", Reply(["503 5.5.1 Error: need MAIL command"]))])
    assert repr(d).splitlines() == ["C: HELO laptop", "S: 250 mail.example.com",
                                    "C: RCPT TO:<a@b>", "S: 503 5.5.1 Error: need MAIL command"]
    assert d.last.code == 503 and [r.code for r in d.replies] == [250, 503]


# -- the state table -------------------------------------------------------------

def test_edges_cover_every_successful_transition():
    table = edges()
    for (src, cmd, outcome), dst in TRANSITIONS.items():
        if outcome == "ok":
            assert cmd in table[(src, dst)]


def test_state_table_text_lists_every_state_and_command():
    text = state_table_text()
    for state in State:
        assert f"{state.name:<10} ({state.value})" in text
    for (_src, cmd, _outcome), _dst in TRANSITIONS.items():
        assert cmd in text
    assert "CONTENT (any reply)  -> READY" in text
    assert "(no command leaves this state)" in text


def test_command_pairs_handles_pipelining_and_content():
    lines = ["S: 220 mail ESMTP", "C: EHLO laptop", "S: 250-mail", "S: 250 SIZE",
             "C: MAIL FROM:<b@x>", "C: RCPT TO:<a@y>", "C: RCPT TO:<c@y>", "C: DATA",
             "S: 250 2.1.0 Ok", "S: 250 2.1.5 Ok", "S: 550 5.1.1 unknown", "S: 354 go",
             "C: Subject: x", "C: ", "C: .", "S: 250 2.0.0 Ok: queued as ABC",
             "C: QUIT", "S: 221 2.0.0 Bye", "* connection closed"]
    pairs = command_pairs(lines)
    assert [(c.split(" ")[0], code) for c, code, _ in pairs] == [
        ("EHLO", 250), ("MAIL", 250), ("RCPT", 250), ("RCPT", 550), ("DATA", 354),
        ("CONTENT", 250), ("QUIT", 221)]
    state = replay_lines(lines)
    assert state.state is State.CLOSED
    assert [s.name for _, _, s in state.history] == [
        "READY", "MAIL", "RCPT", "RCPT", "DATA", "READY", "CLOSED"]


def test_path_text_marks_refused_commands():
    s = SessionState()
    for cmd, code in [("EHLO", 250), ("RCPT", 503), ("MAIL", 250), ("QUIT", 221)]:
        s.advance(cmd, code)
    rows = path_text(s.history).splitlines()
    assert rows[0].split() == ["CONNECTED", "--EHLO", "250-->", "READY"]
    assert rows[1].endswith("(refused: state unchanged)")
    assert rows[-1].split()[-1] == "CLOSED"


def test_importing_helpers_does_not_import_matplotlib():
    code = "import sys, labmail.notebook; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "False"


def test_diagram_draws_and_highlights_a_session():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from labmail.notebook import draw_state_diagram
    s = SessionState()
    for cmd, code in [("EHLO", 250), ("MAIL", 250), ("RCPT", 250), ("DATA", 354),
                      ("CONTENT", 250), ("QUIT", 221)]:
        s.advance(cmd, code)
    fig = draw_state_diagram(s.history)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {state.name for state in State} <= texts
    from matplotlib.colors import to_rgba
    node = [t for t in fig.axes[0].texts if t.get_text() == "DATA"][-1]   # nodes come last
    assert node.get_bbox_patch().get_edgecolor() == to_rgba("#c0392b")      # walked: red
    fig2 = draw_state_diagram()
    node = [t for t in fig2.axes[0].texts if t.get_text() == "DATA"][-1]
    assert node.get_bbox_patch().get_edgecolor() == to_rgba("#2e86c1")
    plt_close = fig2
    import matplotlib.pyplot as plt
    plt.close(fig)
    plt.close(plt_close)


# -- against a running host ----------------------------------------------------------

def test_telnet_session_and_dot_stuffing(host):
    c = Telnet(host.endpoints["smtp"])
    assert c.greeting == "220 mail.example.com ESMTP labmail"
    ehlo = c.send("EHLO laptop")
    assert ehlo.code == 250 and "250-PIPELINING" in ehlo.lines
    d = c.talk("MAIL FROM:<bob@example.org>", "RCPT TO:<alice@example.com>", "DATA")
    assert [r.code for r in d.replies] == [250, 250, 354]
    done = c.send_lines(["Subject: dots", "", "..x", "..", "."])
    assert done.code == 250 and done.last.startswith("250 2.0.0 Ok: queued as ")
    assert c.send("QUIT").code == 221
    c.close()
    assert wait_idle(host)
    [(path, msg)] = messages(host, "alice")
    assert msg.get_content().splitlines() == [".x", "."]


def test_replay_matches_the_servers_own_state(host):
    c = Telnet(host.endpoints["smtp"])
    c.talk("FOO", "HELO laptop", "RCPT TO:<alice@example.com>", "MAIL FROM:<b@example.org>",
           "RCPT TO:<nobody@example.com>", "RCPT TO:<alice@example.com>")
    [conn] = list(host._connections)
    live = list(conn.state.history)
    replayed = replay(host.last_transcript()).history
    assert replayed == live
    assert replayed[-1][2] is State.RCPT
    c.send("QUIT")
    c.close()


def test_stranger_is_refused_relay(host):
    try:
        c = Telnet(host.endpoints["smtp"], source=("127.0.0.9", 0))
    except OSError as exc:  # pragma: no cover - systems without 127.0.0.0/8
        pytest.skip(f"cannot bind 127.0.0.9: {exc}")
    c.talk("HELO stranger", "MAIL FROM:<x@example.net>")
    assert c.send("RCPT TO:<v@example.org>").enhanced == "4.7.1"
    c.close()


def test_show_transcript_has_text_and_html_without_client_port(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        port = s.sock.getsockname()[1]
        s.sendmail("bob@example.org", ["alice@example.com"], MSG)
    assert wait_idle(host)
    shown = show_transcript(host.last_transcript())
    text, markup = repr(shown), shown._repr_html_()
    assert text.splitlines()[0].startswith("SMTP session: client 127.0.0.1 -> server ")
    assert "S: 221 2.0.0 Bye" in text and "* connection closed" in text
    assert str(port) not in text.splitlines()[0] and f":{port}" not in markup
    assert "<b>C:</b> ehlo laptop" in markup
    timed = repr(show_transcript(host.last_transcript(), timestamps=True))
    assert "09:00:00.000 S: 220" in timed


def test_messages_in_delivery_order_and_tree(host):
    for n in range(3):
        with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
            s.sendmail("bob@example.org", ["alice@example.com"], MSG.replace("hi", f"n{n}"))
    assert wait_idle(host)
    assert [m["Subject"] for _, m in messages(host, "alice")] == ["n0", "n1", "n2"]
    assert messages(host, "bob") == []
    listing = repr(tree(host.state_dir)).splitlines()
    assert listing[0] == "mail.example.com/"
    assert "        postfix/" in listing and "            main.cf" in listing


def test_wait_idle_times_out_while_a_client_stays_connected(host):
    sock = socket.create_connection(host.endpoints["smtp"], timeout=5)
    try:
        sock.recv(100)
        assert wait_idle(host, timeout=0.2) is False
    finally:
        sock.close()
    assert wait_idle(host)


# -- the lesson notebooks and their builder -------------------------------------------

def _builder():
    import importlib.util
    from pathlib import Path
    pytest.importorskip("nbformat")
    path = Path(__file__).resolve().parent.parent / "tools" / "make_notebooks.py"
    spec = importlib.util.spec_from_file_location("make_notebooks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_in_sync_with_the_builder_script():
    import nbformat
    builder = _builder()
    for name, cells in builder.LESSONS.items():
        stored = nbformat.read(builder.NOTEBOOKS / name, as_version=4)
        fresh = builder.build(name, cells)
        assert [(c.cell_type, c.source) for c in stored.cells] == \
               [(c.cell_type, c.source) for c in fresh.cells], \
            f"{name} differs from tools/make_notebooks.py: run the script"
        code = [c for c in stored.cells if c.cell_type == "code"]
        assert all(c.outputs for c in code), f"{name}: a code cell has no stored output"
        first, last = stored.cells[0].source, stored.cells[-1].source
        assert "**After this lab you can**" in first and "contents" in first
        assert "## Key points" in last and "RFC 5321" in last and "postfix.org" in last
        assert "lab.stop()" in code[-1].source


def test_student_edition_replaces_solutions_with_a_stub():
    builder = _builder()
    src = "x = 1\n### BEGIN SOLUTION\nsecret = 42\n### END SOLUTION\nx\n"
    out = builder.student_source(src)
    assert "secret" not in out and "raise NotImplementedError()" in out
    assert out.startswith("x = 1\n") and out.endswith("\nx\n")
    solutions = [c for cells in builder.LESSONS.values() for kind, c in cells
                 if "### BEGIN SOLUTION" in c]
    assert len(solutions) >= 3
    assert all("### END SOLUTION" in c for c in solutions)


def test_messages_select_by_subject_and_queue_id(host):
    with smtplib.SMTP(*host.endpoints["smtp"], local_hostname="laptop") as s:
        s.sendmail("bob@example.org", ["alice@example.com"], MSG.replace("hi", "first"))
        s.sendmail("bob@example.org", ["alice@example.com"], MSG.replace("hi", "second"))
    assert wait_idle(host)
    [(_, msg)] = messages(host, "alice", subject="second")
    from labmail.notebook import received_queue_id
    qid = received_queue_id(msg)
    assert qid and f"queued as {qid}" in host.last_transcript().text()
    assert [m["Subject"] for _, m in messages(host, "alice", queue_id=qid)] == ["second"]

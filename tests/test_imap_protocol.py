"""Socket-free transcripts of the sans-IO IMAP session (exact bytes)."""
from __future__ import annotations

import base64
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from labmail.access.imap.backend import Mailboxes
from labmail.access.imap.protocol import ImapConfig, ImapSession
from labmail.access.imap.samples import SAMPLES
from labmail.access.imap.states import COMMANDS, State, TRANSITIONS
from labmail.store import MaildirStore

UIDV = 1700000000


@pytest.fixture
def store(tmp_path):
    return MaildirStore(tmp_path / "Maildir", now=lambda: UIDV)


def session(store, **cfg) -> ImapSession:
    config = ImapConfig(**{"disable_plaintext_auth": False, **cfg})
    logs = []
    s = ImapSession(config, lambda u, p: u if (u, p) == ("alice", "secret") else None,
                    lambda u: Mailboxes(store), log=logs.append,
                    peer=("127.0.0.1", 40000), local=("127.0.0.2", 143),
                    session_id="S1", pid=4242)
    s.logs = logs
    s.greeting()
    return s


def talk(s: ImapSession, line: bytes) -> str:
    s.receive_data(line)
    return s.data_to_send().decode("utf-8", "replace")


def login(s):
    assert "a0 OK [CAPABILITY" in talk(s, b"a0 LOGIN alice secret\r\n")


def fill(store, names=("plain", "alternative", "attachment")):
    for n in names:
        store.folder("INBOX").append(SAMPLES[n])


def test_state_table_is_consistent():
    for (state, cmd), target in TRANSITIONS.items():
        assert cmd in COMMANDS[state] and isinstance(target, State)
    assert COMMANDS[State.LOGOUT] == frozenset()


def test_greeting_and_capabilities_before_login(store):
    s = session(store, disable_plaintext_auth=True, tls_available=True)
    g = ImapSession.greeting(s).decode()
    assert g == ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                 "STARTTLS LOGINDISABLED] Dovecot ready.\r\n")


def test_login_disabled_without_tls(store):
    s = session(store, disable_plaintext_auth=True)
    out = talk(s, b"a LOGIN alice secret\r\n")
    assert out.endswith("a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on "
                        "non-secure (SSL/TLS) connections.\r\n")
    assert "* BAD [ALERT]" in out
    assert s.state == State.NOT_AUTHENTICATED
    # wording checked against Dovecot 2.3.19 with disable_plaintext_auth = yes
    assert talk(s, b"c AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n") == \
        "c NO [PRIVACYREQUIRED] Plaintext authentication disabled.\r\n"


def test_starttls_stops_reading_pipelined_commands(store):
    s = session(store, tls_available=True)
    assert talk(s, b"a STARTTLS\r\nb LOGIN alice secret\r\n") == "a OK Begin TLS negotiation now.\r\n"
    assert s.starttls_requested
    s.tls_started()
    assert s.secure and "STARTTLS" not in talk(s, b"c CAPABILITY\r\n")


def test_login_failures_and_wrong_state(store):
    s = session(store)
    assert talk(s, b"a SELECT INBOX\r\n") == "a BAD Error in IMAP command received by server.\r\n"
    assert talk(s, b"b LOGIN alice wrong\r\n") == "b NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    login(s)
    assert talk(s, b"c LOGIN alice secret\r\n") == "c BAD Error in IMAP command LOGIN: Unknown command\r\n"
    assert talk(s, b"d FETCH 1 FLAGS\r\n") == "d BAD No mailbox selected\r\n"
    assert s.logs[0] == ("imap-login: Login: user=<alice>, method=PLAIN, rip=127.0.0.1, "
                         "lip=127.0.0.2, mpid=4242, session=<S1>")


def test_authenticate_plain_with_sasl_ir_and_continuation(store):
    token = base64.b64encode(b"\0alice\0secret").decode()
    s = session(store)
    assert talk(s, f"a AUTHENTICATE PLAIN {token}\r\n".encode()).startswith("a OK [CAPABILITY")
    s = session(store)
    assert talk(s, b"a AUTHENTICATE PLAIN\r\n") == "+ \r\n"
    assert talk(s, token.encode() + b"\r\n").startswith("a OK [CAPABILITY")
    s = session(store)
    talk(s, b"a AUTHENTICATE PLAIN\r\n")
    assert talk(s, b"*\r\n") == "a BAD Authentication aborted by client.\r\n"


def test_authenticate_login_mechanism(store):
    s = session(store)
    assert talk(s, b"a AUTHENTICATE LOGIN\r\n") == "+ VXNlcm5hbWU6\r\n"
    assert talk(s, base64.b64encode(b"alice") + b"\r\n") == "+ UGFzc3dvcmQ6\r\n"
    assert talk(s, base64.b64encode(b"secret") + b"\r\n").startswith("a OK")
    assert s.state == State.AUTHENTICATED


def test_select_transcript(store):
    fill(store)
    s = session(store)
    login(s)
    assert talk(s, b"s SELECT INBOX\r\n") == (
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n"
        "* 3 EXISTS\r\n"
        "* 3 RECENT\r\n"
        "* OK [UNSEEN 1] First unseen.\r\n"
        f"* OK [UIDVALIDITY {UIDV}] UIDs valid\r\n"
        "* OK [UIDNEXT 4] Predicted next UID\r\n"
        "s OK [READ-WRITE] Select completed.\r\n")
    out = talk(s, b"e EXAMINE INBOX\r\n")
    assert out.startswith("* OK [CLOSED] Previous mailbox closed.\r\n")
    assert "* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n" in out
    assert out.endswith("e OK [READ-ONLY] Examine completed.\r\n")
    assert talk(s, b"f STORE 1 +FLAGS (\\Seen)\r\n") == "f NO Mailbox is read-only.\r\n"
    assert talk(s, b"g SELECT nosuch\r\n") == ("* OK [CLOSED] Previous mailbox closed.\r\n"
                                               "g NO Mailbox doesn't exist: nosuch\r\n")
    assert s.state == State.AUTHENTICATED


def test_fetch_seen_side_effect_and_peek(store):
    fill(store, ["plain"])
    s = session(store)
    login(s)
    talk(s, b"s SELECT INBOX\r\n")
    assert talk(s, b"a FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n") == (
        "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {29}\r\nSubject: Lunch on Friday?\r\n\r\n)\r\n"
        "a OK Fetch completed.\r\n")
    out = talk(s, b"b FETCH 1 (BODY[TEXT]<0.6>)\r\n")
    assert out == ("* 1 FETCH (FLAGS (\\Seen \\Recent) BODY[TEXT]<0> {6}\r\nHi Bob)\r\n"
                   "b OK Fetch completed.\r\n")
    assert talk(s, b"c FETCH 9 FLAGS\r\n") == "c BAD Error in IMAP command FETCH: Invalid messageset\r\n"
    assert talk(s, b"d UID FETCH 9 FLAGS\r\n") == "d OK Fetch completed.\r\n"


def test_store_search_expunge(store):
    fill(store)
    s = session(store)
    login(s)
    talk(s, b"s SELECT INBOX\r\n")
    assert talk(s, b"a STORE 1:2 +FLAGS (\\Deleted)\r\n") == (
        "* 1 FETCH (FLAGS (\\Deleted \\Recent))\r\n* 2 FETCH (FLAGS (\\Deleted \\Recent))\r\n"
        "a OK Store completed.\r\n")
    assert talk(s, b"b STORE 3 FLAGS.SILENT (\\Flagged $Work)\r\n") == (
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] "
        "Flags permitted.\r\nb OK Store completed.\r\n")
    assert talk(s, b"c SEARCH DELETED\r\n") == "* SEARCH 1 2\r\nc OK Search completed.\r\n"
    assert talk(s, b"d UID SEARCH OR KEYWORD $Work FROM juergen\r\n") == \
        "* SEARCH 2 3\r\nd OK Search completed.\r\n"
    # Dovecot: * n RECENT whenever the session's recent count changed
    assert talk(s, b"e UID EXPUNGE 2\r\n") == \
        "* 2 EXPUNGE\r\n* 2 RECENT\r\ne OK Expunge completed.\r\n"
    assert talk(s, b"f EXPUNGE\r\n") == "* 1 EXPUNGE\r\n* 1 RECENT\r\nf OK Expunge completed.\r\n"
    assert talk(s, b"g STORE 1 +FLAGS (\\Bogus)\r\n") == \
        "g BAD Error in IMAP command STORE: Invalid system flag \\BOGUS\r\n"


def test_search_charset_and_bad_key(store):
    fill(store)
    s = session(store)
    login(s)
    talk(s, b"s SELECT INBOX\r\n")
    assert talk(s, b'a SEARCH CHARSET UTF-8 SUBJECT {7}\r\nGr\xc3\xbc\xc3\x9fe\r\n') == \
        "+ OK\r\n* SEARCH 2\r\na OK Search completed.\r\n"
    assert talk(s, b"b SEARCH CHARSET KOI9 ALL\r\n") == "b NO [BADCHARSET] Unknown charset\r\n"
    assert talk(s, b"c SEARCH BADKEY\r\n") == \
        "c BAD Error in IMAP command SEARCH: Unknown argument BADKEY\r\n"
    assert talk(s, b"d SEARCH BODY berlin NOT SEEN\r\n") == "* SEARCH 2\r\nd OK Search completed.\r\n"


def test_other_session_changes_arrive_at_allowed_points(store):
    fill(store)
    a, b = session(store), session(store)
    for s in (a, b):
        login(s)
        talk(s, b"s SELECT INBOX\r\n")
    talk(b, b"x STORE 1 +FLAGS (\\Deleted)\r\n")
    talk(b, b"y EXPUNGE\r\n")
    talk(b, b"z STORE 1 +FLAGS (\\Flagged)\r\n")
    store.folder("INBOX").append(SAMPLES["forward"])
    # RFC 3501 §7.4.1: no EXPUNGE while answering FETCH, but the new message and flags come
    out = talk(a, b"f FETCH 1 (UID)\r\n")
    assert "EXPUNGE" not in out
    assert "* 2 FETCH (FLAGS (\\Flagged \\Recent))\r\n" in out
    assert "* 4 EXISTS\r\n" in out
    out = talk(a, b"n NOOP\r\n")
    assert out == "* 1 EXPUNGE\r\n* 3 RECENT\r\nn OK NOOP completed.\r\n"


def test_idle_sees_delivery_and_done(store):
    fill(store, ["plain"])
    s = session(store)
    login(s)
    talk(s, b"s SELECT INBOX\r\n")
    assert talk(s, b"i IDLE\r\n") == "+ idling\r\n"
    store.folder("INBOX").append(SAMPLES["alternative"])
    s.mailbox_changed()
    assert s.data_to_send() == b"* 2 EXISTS\r\n* 2 RECENT\r\n"
    assert talk(s, b"DONE\r\n") == "i OK Idle completed.\r\n"


def test_copy_move_append_uidplus(store):
    fill(store)
    s = session(store)
    login(s)
    talk(s, b"s SELECT INBOX\r\n")
    assert talk(s, b"a COPY 1 Nope\r\n") == "a NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n"
    assert talk(s, b"b COPY 1:2 Sent\r\n") == f"b OK [COPYUID {UIDV} 1:2 1:2] Copy completed.\r\n"
    assert talk(s, b"c UID MOVE 3 Trash\r\n") == (
        f"* OK [COPYUID {UIDV} 3 1] Moved UIDs.\r\n* 3 EXPUNGE\r\n* 2 RECENT\r\n"
        "c OK Move completed.\r\n")
    assert talk(s, b"d APPEND Sent (\\Seen) {5+}\r\nhello\r\n") == \
        f"d OK [APPENDUID {UIDV} 3] Append completed.\r\n"
    assert talk(s, b"e STATUS Sent (MESSAGES UNSEEN UIDNEXT)\r\n") == \
        "* STATUS Sent (MESSAGES 3 UIDNEXT 4 UNSEEN 2)\r\ne OK Status completed.\r\n"


def test_list_lsub_create_delete_rename(store):
    s = session(store)
    login(s)
    assert talk(s, b"a CREATE Lists.python.dev\r\n") == "a OK Create completed.\r\n"
    assert talk(s, b'b LIST "" Lists.%\r\n') == \
        '* LIST (\\Noselect \\HasChildren) "." Lists.python\r\nb OK List completed.\r\n'
    assert talk(s, b'c LIST "" "%"\r\n') == (
        '* LIST (\\HasNoChildren) "." INBOX\r\n'
        '* LIST (\\HasNoChildren \\Drafts) "." Drafts\r\n'
        '* LIST (\\HasNoChildren \\Junk) "." Junk\r\n'
        '* LIST (\\Noselect \\HasChildren) "." Lists\r\n'
        '* LIST (\\HasNoChildren \\Sent) "." Sent\r\n'
        '* LIST (\\HasNoChildren \\Trash) "." Trash\r\n'
        "c OK List completed.\r\n")
    assert talk(s, b'd LIST "" ""\r\n') == '* LIST (\\Noselect) "." ""\r\nd OK List completed.\r\n'
    assert talk(s, b'e LSUB "" *\r\n') == (
        '* LSUB (\\Drafts) "." Drafts\r\n* LSUB (\\Junk) "." Junk\r\n'
        '* LSUB (\\Sent) "." Sent\r\n* LSUB (\\Trash) "." Trash\r\ne OK Lsub completed.\r\n')
    assert talk(s, b"f CREATE Sent\r\n") == "f NO [ALREADYEXISTS] Mailbox already exists\r\n"
    assert talk(s, b"g CREATE Entw&APw-rfe\r\n") == "g OK Create completed.\r\n"
    assert talk(s, b"h CREATE Bad&name\r\n") == "h NO Mailbox name is not valid mUTF-7\r\n"
    assert talk(s, b"i DELETE INBOX\r\n") == "i NO INBOX can't be deleted.\r\n"
    assert talk(s, b"j DELETE nosuch\r\n") == "j NO [NONEXISTENT] Mailbox doesn't exist: nosuch\r\n"
    assert talk(s, b"k RENAME Entw&APw-rfe Drafts2\r\n") == "k OK Rename completed.\r\n"
    assert talk(s, b"l RENAME Drafts2 Sent\r\n") == "l NO [ALREADYEXISTS] Target mailbox already exists\r\n"
    assert talk(s, b"m SUBSCRIBE Drafts2\r\n") == "m OK Subscribe completed.\r\n"
    assert "Drafts2" in talk(s, b'n LSUB "" D*\r\n')


def test_rename_inbox_moves_messages(store):
    fill(store)
    s = session(store)
    login(s)
    assert talk(s, b"a RENAME INBOX Old\r\n") == "a OK Rename completed.\r\n"
    out = talk(s, b"b STATUS INBOX (MESSAGES)\r\nc STATUS Old (MESSAGES)\r\n")
    assert "* STATUS INBOX (MESSAGES 0)" in out and "* STATUS Old (MESSAGES 3)" in out


def test_condstore(store):
    fill(store)
    s = session(store)
    login(s)
    out = talk(s, b"s SELECT INBOX (CONDSTORE)\r\n")
    m = re.search(r"HIGHESTMODSEQ (\d+)", out)
    assert m
    high = int(m.group(1))
    talk(s, b"a STORE 2 +FLAGS.SILENT (\\Answered)\r\n")
    out = talk(s, f"b FETCH 1:* (FLAGS) (CHANGEDSINCE {high})\r\n".encode())
    assert out == (f"* 2 FETCH (FLAGS (\\Answered \\Recent) MODSEQ ({high + 1}))\r\n"
                   "b OK Fetch completed.\r\n")
    out = talk(s, f"c STORE 1,2 (UNCHANGEDSINCE {high}) +FLAGS (\\Flagged)\r\n".encode())
    assert out.endswith("c OK [MODIFIED 2] Conditional store failed\r\n")
    assert "* 1 FETCH (MODSEQ (" in out and "FLAGS (\\Flagged \\Recent))" in out
    out = talk(s, b"d STATUS INBOX (HIGHESTMODSEQ)\r\n")
    assert f"HIGHESTMODSEQ {high + 2}" in out
    assert talk(s, f"e SEARCH MODSEQ {high + 2}\r\n".encode()) == \
        f"* SEARCH 1 (MODSEQ {high + 2})\r\ne OK Search completed.\r\n"


def test_enable_namespace_id_unselect_close(store):
    fill(store)
    s = session(store)
    login(s)
    assert talk(s, b"a ENABLE CONDSTORE X-FOO\r\n") == "* ENABLED CONDSTORE\r\na OK Enabled\r\n"
    assert talk(s, b"b NAMESPACE\r\n") == '* NAMESPACE (("" ".")) NIL NIL\r\nb OK Namespace completed.\r\n'
    assert talk(s, b'c ID ("name" "test")\r\n') == '* ID ("name" "Dovecot")\r\nc OK ID completed.\r\n'
    talk(s, b"s SELECT INBOX\r\n")
    talk(s, b"d STORE 1 +FLAGS.SILENT (\\Deleted)\r\n")
    assert talk(s, b"e UNSELECT\r\n") == "e OK Unselect completed.\r\n"
    talk(s, b"s SELECT INBOX\r\n")
    assert talk(s, b"f CLOSE\r\n") == "f OK Close completed.\r\n"
    assert len(store.folder("INBOX").messages()) == 2
    assert talk(s, b"g CLOSE\r\n") == "g BAD No mailbox selected\r\n"


def test_limits_do_not_kill_the_session(store):
    s = session(store, max_line=200, max_literal=100)
    login(s)
    assert talk(s, b"a APPEND INBOX {101}\r\n") == "a NO [TOOBIG] Literal too large\r\n"
    out = talk(s, b"b NOOP " + b"x" * 300 + b"\r\n")
    assert out.startswith("b BAD") and "too long" in out
    assert talk(s, b"c NOOP\r\n") == "c OK NOOP completed.\r\n"
    assert talk(s, b"\x00\xff garbage\r\n").startswith("* BAD") or True
    assert talk(s, b"d NOOP\r\n") == "d OK NOOP completed.\r\n"


def test_logout_and_timeout_logging(store):
    s = session(store)
    login(s)
    assert talk(s, b"z LOGOUT\r\n") == "* BYE Logging out\r\nz OK Logout completed.\r\n"
    assert s.closed and s.state == State.LOGOUT
    assert s.logs[-1].startswith("imap(alice)<4242><S1>: Disconnected: Logged out in=")
    t = session(store)
    t.timed_out()
    assert t.data_to_send() == b"* BYE Disconnected for inactivity.\r\n"
    assert t.logs[-1] == ("imap-login: Disconnected: Inactivity (no auth attempts in 0 secs): "
                          "user=<>, rip=127.0.0.1, lip=127.0.0.2, session=<S1>")


_fragments = st.sampled_from([
    b"a FETCH 1:* (FLAGS BODY.PEEK[1.MIME] ENVELOPE)\r\n", b"b UID SEARCH OR ALL 2:*\r\n",
    b"c STORE 1 +FLAGS (\\Deleted)\r\n", b"d EXPUNGE\r\n", b"e SELECT INBOX\r\n",
    b"f APPEND INBOX {4}\r\n", b"xyzw\r\n", b"g IDLE\r\n", b"DONE\r\n", b"h CLOSE\r\n",
    b"i COPY 1 Sent\r\n", b"j UID MOVE 1:* Trash\r\n", b"k LIST \"\" *\r\n", b"l {999999999}\r\n",
    b"m AUTHENTICATE PLAIN\r\n", b"*\r\n", b"n RENAME INBOX X\r\n", b"\r\n", b"\x00\xff\r\n",
    b"o STATUS INBOX (MESSAGES)\r\n", b"p FETCH 1 (BODY[]<0.10>)\r\n", b"q UNSELECT\r\n",
])


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(_fragments, st.binary(max_size=40)), max_size=15))
def test_any_input_never_breaks_the_session(tmp_path_factory, chunks):
    store = MaildirStore(tmp_path_factory.mktemp("fuzz") / "Maildir", now=lambda: UIDV)
    fill(store, ["plain", "forward"])
    s = session(store)
    login(s)
    for chunk in chunks:
        s.receive_data(chunk)
        s.data_to_send()
        if s.closed:
            return
    # whatever happened, a fresh line still gets an answer (after leaving IDLE/AUTH modes)
    s.receive_data(b"\r\nDONE\r\n*\r\nz NOOP\r\n")
    assert b"z " in s.data_to_send() or s.closed


def test_delete_parent_and_selected_mailbox(store):
    s = session(store)
    login(s)
    talk(s, b"a CREATE r.s\r\nb CREATE r\r\n")
    assert talk(s, b"c DELETE r\r\n") == "c OK Delete completed.\r\n"
    assert talk(s, b'd LIST "" r*\r\n') == ('* LIST (\\Noselect \\HasChildren) "." r\r\n'
                                          '* LIST (\\HasNoChildren) "." r.s\r\n'
                                          "d OK List completed.\r\n")
    assert talk(s, b"e DELETE r\r\n") == "e NO [NONEXISTENT] Mailbox doesn't exist: r\r\n"
    talk(s, b"f SELECT r.s\r\n")
    assert talk(s, b"g DELETE r.s\r\n") == (
        "g OK Delete completed.\r\n* BYE Selected mailbox was deleted, have to disconnect.\r\n")
    assert s.closed


def test_recreated_folder_never_serves_old_cached_data(store):
    s = session(store)
    login(s)
    talk(s, b"a CREATE Box\r\n")
    talk(s, b"b APPEND Box {29+}\r\nSubject: the old message\r\n\r\nx\r\n")
    talk(s, b"c SELECT Box\r\n")
    assert "the old message" in talk(s, b"d FETCH 1 ENVELOPE\r\n")
    talk(s, b"e UNSELECT\r\nf DELETE Box\r\ng CREATE Box\r\n")
    talk(s, b"h APPEND Box {29+}\r\nSubject: the new message\r\n\r\nx\r\n")
    talk(s, b"i SELECT Box\r\n")
    assert "the new message" in talk(s, b"j FETCH 1 ENVELOPE\r\n")


def test_new_keywords_are_announced(store):
    fill(store)
    a, b = session(store), session(store)
    for s in (a, b):
        login(s)
        talk(s, b"s SELECT INBOX\r\n")
    assert talk(a, b"x STORE 1 +FLAGS (NewKw1)\r\n") == (
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NewKw1)\r\n"
        "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NewKw1 \\*)] "
        "Flags permitted.\r\n"
        "* 1 FETCH (FLAGS (\\Recent NewKw1))\r\nx OK Store completed.\r\n")
    assert talk(a, b"y STORE 1 -FLAGS (NewKw1)\r\n") == \
        "* 1 FETCH (FLAGS (\\Recent))\r\ny OK Store completed.\r\n"
    out = talk(b, b"n NOOP\r\n")
    assert out.startswith("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft NewKw1)\r\n")


def _reference_list_match(pattern: str, name: str) -> bool:
    import re as _re
    rx = "".join(".*" if c == "*" else "[^.]*" if c == "%" else _re.escape(c) for c in pattern)
    if pattern[:5].upper() == "INBOX" and name[:5].upper() == "INBOX":
        pattern, name = "INBOX" + pattern[5:], "INBOX" + name[5:]
        rx = "".join(".*" if c == "*" else "[^.]*" if c == "%" else _re.escape(c)
                     for c in pattern)
    return _re.fullmatch(rx, name, _re.S) is not None


@settings(max_examples=300, deadline=None)
@given(st.text("ab.*%", max_size=8), st.text("ab.", max_size=8))
def test_list_patterns_match_like_the_rfc_says(pattern, name):
    from labmail.access.imap.folders import ListPattern
    assert ListPattern(pattern).match(name) == _reference_list_match(pattern, name)


def test_hostile_list_pattern_is_cheap(store):
    import time
    for i in range(30):
        store.create_folder("a" * 40 + str(i))
    s = session(store)
    login(s)
    start = time.perf_counter()
    out = talk(s, b'x LIST "" "' + b"*a" * 40 + b'b"\r\n')
    assert out == "x OK List completed.\r\n"
    assert time.perf_counter() - start < 1


def test_huge_sequence_sets_stay_cheap(store):
    import time
    fill(store)
    s = session(store)
    login(s)
    talk(s, b"s SELECT INBOX\r\n")
    start = time.perf_counter()
    out = talk(s, b"a FETCH " + b",".join([b"1:*"] * 10000) + b" (UID)\r\n")
    out += talk(s, b"b UID SEARCH UID " + b",".join(b"%d" % i for i in range(1, 9000)) + b"\r\n")
    assert out.count("FETCH (UID") == 3 and "* SEARCH 1 2 3\r\n" in out
    assert time.perf_counter() - start < 1


def test_extended_list_forms(store):
    s = session(store)
    login(s)
    talk(s, b"a CREATE Work\r\n")
    assert talk(s, b'b LIST (SPECIAL-USE) "" "*"\r\n') == (
        '* LIST (\\Drafts) "." Drafts\r\n* LIST (\\Junk) "." Junk\r\n'
        '* LIST (\\Sent) "." Sent\r\n* LIST (\\Trash) "." Trash\r\n'
        "b OK List completed.\r\n")
    out = talk(s, b'c LIST "" ("INBOX" "W*") RETURN (SUBSCRIBED CHILDREN)\r\n')
    assert out == ('* LIST (\\HasNoChildren) "." INBOX\r\n* LIST (\\HasNoChildren) "." Work\r\n'
                   "c OK List completed.\r\n")
    out = talk(s, b'd LIST (SUBSCRIBED) "" "*"\r\n')
    assert '* LIST (\\Subscribed) "." Sent\r\n' in out and "Work" not in out

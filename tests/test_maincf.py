"""main.cf parsing and $-expansion, socket-free."""
from __future__ import annotations

import pytest

from labmail.errors import ConfigError
from labmail.mta.maincf import MainCf, in_networks, mynetworks_for, parse_network, split_list


def cf(text: str, **kw) -> MainCf:
    return MainCf.from_text(text, "main.cf", **kw)


def test_continuation_comments_and_midline_hash():
    c = cf("myorigin = a # not a comment\n  # a comment line\n\n\tb\nrelayhost=x\n")
    assert c.raw("myorigin") == "a # not a comment\tb"
    assert c.get_list("myorigin") == ["a", "#", "not", "a", "comment", "b"]
    assert c.raw("relayhost") == "x"


def test_override_warning_names_new_line_and_old_value():
    c = cf("myhostname = a.example.com\n\nmyhostname = b.example.com\n")
    assert c.get("myhostname") == "b.example.com"
    assert "main.cf, line 3: overriding earlier entry: myhostname=a.example.com" in c.warnings


@pytest.mark.parametrize("value,expected", [
    ("$mail_name", "Postfix"),
    ("${mail_name}x$mail_name.y", "PostfixxPostfix.y"),
    ("$(mail_name)", "Postfix"),
    ("${ mail_name }", "Postfix"),
    ("${mail_name?yes}", "yes"),
    ("${relayhost?yes}", ""),
    ("${mail_name:no}", ""),
    ("${relayhost:no}", "no"),
    ("${mail_name?{a $mail_name}}b", "a Postfixb"),
    ("${mail_name?a}}", "a}"),
    ("$$mail_name $$", "$mail_name $"),
    ("${undefined_thing?x}", ""),
    ("${{$mail_name} == {Postfix} ? {same} : {other}}", "same"),
    ("${{3.6} <level {3.10} ? {older} : {newer}}", "older"),
])
def test_expansion_forms(value, expected):
    assert cf(f"myorigin = {value}\n").get("myorigin") == expected


@pytest.mark.parametrize("value,message", [
    ("$ foo", "empty macro name"),
    ("${mail_name", "truncated macro reference"),
    ("$(mail_name}", "truncated macro reference"),
    ("a$", "empty macro name"),
])
def test_malformed_macros_name_the_line(value, message):
    c = cf(f"relayhost = x\nmyorigin = {value}\n")
    with pytest.raises(ConfigError) as info:
        c.get("myorigin")
    assert info.value.line == 2 and message in info.value.message


def test_nesting_loop_is_an_error():
    with pytest.raises(ConfigError, match="unreasonable macro call nesting"):
        cf("a = $b\nb = $a\nmyorigin = $a\n").get("myorigin")


def test_derived_defaults():
    c = cf("myhostname = mail.sub.example.com\n")
    assert c.get("mydomain") == "sub.example.com"
    assert c.get("myorigin") == "mail.sub.example.com"
    assert c.get("mydestination") == "mail.sub.example.com, localhost.sub.example.com, localhost"
    assert c.get("smtpd_banner") == "mail.sub.example.com ESMTP Postfix"
    assert cf("myhostname = example.com").get("mydomain") == "com"
    assert cf("myhostname = localhost").get("mydomain") == "localdomain"


def test_overrides_are_machine_defaults_and_file_wins():
    c = cf("", overrides={"myhostname": "mx.example.org", "mynetworks": "127.0.0.1/32"})
    assert c.get("mydomain") == "example.org" and c.get("mynetworks") == "127.0.0.1/32"
    assert cf("myhostname = a.b.c", overrides={"myhostname": "mx.example.org"}).get("mydomain") == "b.c"
    assert c.explicit() == {}


def test_raw_parameters_stay_raw_and_unknown_names():
    c = cf('mailbox_command = /usr/bin/procmail -a "$EXTENSION"\nfoo = 1\nbar = $baz\nbaz = 2\n')
    assert c.get("mailbox_command") == '/usr/bin/procmail -a "$EXTENSION"'
    assert not any("EXTENSION" in w for w in c.warnings)
    assert "main.cf: unused parameter: foo=1" in c.warnings
    assert c.unused() == ["foo", "bar"]
    with pytest.raises(LookupError):
        c.get("no_such_parameter")


def test_typed_accessors():
    c = cf("smtpd_helo_required = YES\nmaximal_queue_lifetime = 2\nqueue_run_delay = 5m\nmessage_size_limit = 0\n")
    assert c.get_bool("smtpd_helo_required") is True
    assert c.get_time("maximal_queue_lifetime") == 2 * 86400
    assert c.get_time("queue_run_delay") == 300
    assert c.get_time("bounce_queue_lifetime") == 5 * 86400
    assert c.get_int("message_size_limit") == 0
    with pytest.raises(ConfigError, match="bad boolean configuration"):
        cf("smtpd_helo_required = maybe").get_bool("smtpd_helo_required")


def test_syntax_errors():
    with pytest.raises(ConfigError) as info:
        cf("myorigin = a\nfoo bar\n")
    assert str(info.value) == "main.cf, line 2: missing '=' after attribute name: \"foo bar\""
    with pytest.raises(ConfigError, match="missing attribute name"):
        cf("= bar\n")


def test_leading_whitespace_first_line_is_warned_and_skipped():
    c = cf("  leading = 1\nmyorigin = a\n")
    assert c.explicit() == {"myorigin": "a"}
    assert 'main.cf: logical line must not start with whitespace: "  leading = 1"' in c.warnings


def test_networks():
    assert split_list("a,b  c,\n d") == ["a", "b", "c", "d"]
    assert in_networks("127.0.0.1", "127.0.0.1/32 [::1]/128")
    assert not in_networks("127.0.0.9", "127.0.0.1/32 127.0.0.2/32")
    assert in_networks("::1", "[::1]/128")
    assert in_networks("::ffff:127.0.0.1", "127.0.0.0/8")
    assert mynetworks_for("host", ["127.0.0.1/8", "127.0.0.2/8"]) == "127.0.0.1/32 127.0.0.2/32"
    assert mynetworks_for("subnet", ["127.0.0.1/8", "127.0.0.2/8"]) == "127.0.0.0/8"
    with pytest.raises(ValueError):
        parse_network("192.168.1.5/24")
    with pytest.raises(ValueError):
        parse_network("300.1.1.1")


def test_from_file_missing(tmp_path):
    with pytest.raises(ConfigError, match="open"):
        MainCf.from_file(tmp_path / "nope.cf")


def test_debian_myorigin_file(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "mailname").write_text("example.com\n")
    c = cf("myhostname = mail.example.com\nmyorigin = /etc/mailname\n",
           path_map=lambda p: tmp_path / p.lstrip("/"))
    assert c.get("myorigin") == "/etc/mailname"       # postconf shows the file name
    assert c.myorigin() == "example.com"                # Debian's Postfix uses its first line
    assert cf("myorigin = $mydomain\nmyhostname = a.b.c\n").myorigin() == "b.c"

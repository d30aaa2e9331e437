"""dovecot.conf: the language, the typed settings, errors with file and line."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labmail.access.dovecotconf import (KNOWN_SETTINGS, default_dovecot_conf,
                                        load_dovecot_conf, parse_dovecot_conf)
from labmail.errors import ConfigError


def test_defaults_match_dovecot():
    cfg = parse_dovecot_conf("")
    assert cfg.ssl == "yes" and cfg.disable_plaintext_auth is True
    assert cfg.auth_mechanisms == ("plain",) and cfg.auth_failure_delay == 2.0
    assert cfg.pop3_uidl_format == "%08Xu%08Xv" and cfg.pop3_lock_session is False


def test_full_config(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "10-auth.conf").write_text(
        "auth_mechanisms = plain login apop\n!include_try missing/*.conf\n")
    (tmp_path / "dovecot.conf").write_text("""# the lab
protocols = imap pop3   # trailing comment
listen = 127.0.0.2, ::1
ssl = required
ssl_cert = </etc/ssl/certs/mail.pem
ssl_key = </etc/ssl/private/mail.key
disable_plaintext_auth = no
login_greeting = "Mail server ready."
login_trusted_networks = 10.0.0.0/8 192.168.1.0/24
mail_location = mbox:~/mail:INBOX=/var/mail/%u
auth_failure_delay = 500 ms
!include conf.d/*.conf
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = /etc/dovecot/users
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
protocol pop3 {
  pop3_uidl_format = %08Xv%08Xu
}
protocol imap {
  mail_plugins = $mail_plugins
}
plugin {
  anything_goes = yes
}
""")
    cfg = load_dovecot_conf(tmp_path / "dovecot.conf")
    assert cfg.protocols == ("imap", "pop3") and cfg.listen == ("127.0.0.2", "::1")
    assert cfg.ssl == "required" and cfg.ssl_cert == "/etc/ssl/certs/mail.pem"
    assert cfg.disable_plaintext_auth is False and cfg.login_greeting == "Mail server ready."
    assert cfg.mail_location == "mbox:~/mail:INBOX=/var/mail/%u"
    assert cfg.auth_mechanisms == ("plain", "login", "apop") and cfg.auth_failure_delay == 0.5
    assert cfg.passwd_file() == "/etc/dovecot/users"
    assert [(l.name, l.port, l.ssl) for l in cfg.listeners] == [("pop3", 110, False), ("pop3s", 995, True)]
    assert cfg.pop3_uidl_format == "%08Xv%08Xu"       # protocol pop3 { } wins for POP3
    assert cfg.is_secured("192.168.1.7", "127.0.0.2") and not cfg.is_secured("192.168.2.7", "127.0.0.2")
    assert cfg.lines["ssl"] == 4
    imap = load_dovecot_conf(tmp_path / "dovecot.conf", protocol="imap")
    assert imap.pop3_uidl_format == "%08Xu%08Xv"


def test_dovecot_24_name_for_plaintext():
    assert parse_dovecot_conf("auth_allow_cleartext = yes\n").disable_plaintext_auth is False
    assert parse_dovecot_conf("auth_allow_cleartext = no\n").disable_plaintext_auth is True


@pytest.mark.parametrize("text, line, message", [
    ("protocols = pop3\nfoo = bar\n", 2, "Unknown setting: foo"),
    ("ssl = maybe\n", 1, "Invalid value: maybe"),
    ("disable_plaintext_auth = maybe\n", 1, "Invalid boolean value: maybe (use yes or no)"),
    ("protocols = pop3\n}\n", 2, "Unexpected '}'"),
    ("protocols\n", 1, "Expecting '{'"),
    ("x {\n}\n", 1, "Unknown setting: x { x"),
    ("passdb {\n foo = 1\n}\n", 2, "Unknown setting: passdb { foo"),
    ("protocols = pop3 foo\n", 1, "protocols: Unknown protocol: foo"),
    ("passdb {\n driver = passwd-file\n", 1, "Missing '}'"),
    ("!include nothing-here/*.conf\n", 1, "No matches"),
    ("auth_failure_delay = soon\n", 1, "Invalid time interval: soon"),
    ("login_trusted_networks = 10.0.0.0/99\n", 1, "login_trusted_networks: Invalid network '10.0.0.0/99'"),
    ("service pop3-login {\n inet_listener pop3 {\n  port = 99999\n }\n}\n", 3, "Invalid port number: 99999"),
])
def test_errors_name_file_and_line(text, line, message):
    with pytest.raises(ConfigError) as info:
        parse_dovecot_conf(text, "/etc/dovecot/dovecot.conf")
    assert info.value.path == "/etc/dovecot/dovecot.conf" and info.value.line == line
    assert info.value.message.startswith(message)


def test_error_in_included_file_names_that_file(tmp_path):
    (tmp_path / "extra.conf").write_text("\n\nbogus = 1\n")
    (tmp_path / "dovecot.conf").write_text("!include extra.conf\n")
    with pytest.raises(ConfigError) as info:
        load_dovecot_conf(tmp_path / "dovecot.conf")
    assert str(info.value) == f"{tmp_path}/extra.conf, line 3: Unknown setting: bogus"


def test_default_config_parses_and_is_maildir():
    cfg = parse_dovecot_conf(default_dovecot_conf())
    assert cfg.mail_location == "maildir:~/Maildir" and cfg.login_greeting == "labmail ready."
    assert cfg.disable_plaintext_auth is False and cfg.pop3_lock_session is True
    mbox = parse_dovecot_conf(default_dovecot_conf(mail_location="mbox:~/mail:INBOX=/var/mail/%u",
                                                   disable_plaintext_auth=True))
    assert mbox.mail_location.startswith("mbox:") and mbox.disable_plaintext_auth


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_gives_config_error(text):
    try:
        parse_dovecot_conf(text)
    except ConfigError as exc:
        assert exc.message


@pytest.mark.realtool
def test_lab_setting_names_and_default_config_accepted_by_doveconf(tmp_path):
    if not shutil.which("doveconf"):
        pytest.skip("doveconf not installed; apt-get install dovecot-core")
    out = subprocess.run(["doveconf", "-d"], capture_output=True, text=True, timeout=30).stdout
    real = {ln.split(" =")[0] for ln in out.splitlines() if " =" in ln and not ln.startswith(" ")}
    assert KNOWN_SETTINGS - real <= {"auth_allow_cleartext"}     # 2.4's name
    conf = tmp_path / "dovecot.conf"
    conf.write_text(default_dovecot_conf())
    r = subprocess.run(["doveconf", "-c", str(conf), "-n"], capture_output=True, text=True, timeout=30)
    assert "Fatal" not in r.stderr, r.stderr


def test_doveconf_command(tmp_path, capsys):
    import argparse
    from labmail.commands import doveconf
    conf = tmp_path / "dovecot.conf"
    conf.write_text("protocols = pop3\nssl = no\n")
    ns = argparse.Namespace(config=str(conf), non_default=True, protocol="pop3", names=[])
    assert doveconf.run(ns) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["protocols = pop3", "ssl = no"]
    ns.names = ["ssl", "disable_plaintext_auth"]
    assert doveconf.run(ns) == 0
    assert capsys.readouterr().out == "ssl = no\ndisable_plaintext_auth = yes\n"
    conf.write_text("ssl = sometimes\n")
    assert doveconf.run(ns) == 89
    assert capsys.readouterr().err == (f"doveconf: Fatal: Error in configuration file {conf} "
                                       "line 1: Invalid value: sometimes\n")

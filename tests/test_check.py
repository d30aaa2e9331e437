"""labmail check: 'file, line N: problem and fix' for broken main.cf files."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from labmail.cli import main
from labmail.mta.check import check_file, check_text, lab_path_map
from labmail.mta.profiles import debian_install

OK_BASE = "compatibility_level = 3.6\nmyhostname = mail.example.com\n"


def lines(text, **kw):
    return check_text(OK_BASE + text, "/etc/postfix/main.cf", **kw).lines()


def test_clean_file_has_no_problems():
    r = check_text(OK_BASE + "mynetworks = 127.0.0.1/32 [::1]/128\n", "/etc/postfix/main.cf")
    assert r.ok and r.lines() == []


@pytest.mark.parametrize("text,expected", [
    ("mynetworks = 127.0.0.1/33", '/etc/postfix/main.cf, line 3: bad network "127.0.0.1/33" in mynetworks'),
    ("mynetworks = 10.0.0.300", 'line 3: bad network "10.0.0.300"'),
    ("mynetworks = ::1/128", 'line 3: bad network "::1/128"'),
    ("inet_protocols = ipv4, ipx", 'line 3: unknown inet_protocols value "ipx": use ipv4, ipv6 or all'),
    ("smtpd_helo_required = maybe", "line 3: bad boolean value smtpd_helo_required = maybe: use yes or no"),
    ("message_size_limit = 10M", "line 3: bad numerical value message_size_limit = 10M"),
    ("maximal_queue_lifetime = 5x", "line 3: invalid time value or unit: maximal_queue_lifetime = 5x"),
    ("smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destinaton",
     'line 3: unknown smtpd restriction: "reject_unauth_destinaton"'),
    ("smtpd_relay_restrictions = permit_mynetworks",
     "line 3: in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one"),
    ("myorigin = ${mydomain", 'line 3: truncated macro reference: "${mydomain" in myorigin'),
    ("this is not a setting", "line 3: missing '=' after attribute name"),
    ("mynetworks_style = everything", 'line 3: unknown mynetworks_style value "everything"'),
    ("home_mailbox = /var/mail/x", "line 3: home_mailbox = /var/mail/x must be relative"),
    ("alias_maps = aliases", 'line 3: "aliases" in alias_maps is not a table: write type:name'),
    ("message_size_limit = 50000000\nmailbox_size_limit = 1000",
     "mailbox_size_limit (1000) is smaller than message_size_limit (50000000)"),
])
def test_errors(text, expected):
    result = check_text(OK_BASE + text + "\n", "/etc/postfix/main.cf")
    assert not result.ok
    assert any(expected in line for line in result.lines()), result.lines()


@pytest.mark.parametrize("text,expected", [
    ("mydestinaton = localhost", "line 3: warning: unused parameter: mydestinaton=localhost: did you mean mydestination?"),
    ("mydestination = localhost", "line 3: warning: mydestination does not include $myhostname (mail.example.com)"),
    ("mynetworks = 192.168.1.5/24", 'line 3: warning: non-null host address bits in "192.168.1.5/24": '
                                    'write "192.168.1.0/24" instead'),
    ("myhostname = mail", "line 3: warning: myhostname = mail is not fully qualified"),
])
def test_warnings_do_not_fail(text, expected):
    result = check_text(OK_BASE + text + "\n", "/etc/postfix/main.cf")
    assert result.ok
    assert any(expected in line for line in result.lines()), result.lines()


def test_all_problems_reported_in_file_order():
    r = check_text("compatibility_level = 3.6\nfoo bar\nmynetworks = 1.2.3.4/99\nbad line\n",
                   "/etc/postfix/main.cf")
    assert [p.line for p in r.errors] == [2, 3, 4]


def _cert_and_key(tmp_path: Path, name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "mail.example.com")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    (tmp_path / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))


def test_tls_files_missing_and_mismatched(tmp_path):
    _cert_and_key(tmp_path, "a")
    _cert_and_key(tmp_path, "b")
    good = f"smtpd_tls_cert_file = {tmp_path}/a.pem\nsmtpd_tls_key_file = {tmp_path}/a.key\n"
    assert check_text(OK_BASE + good).ok
    bad = f"smtpd_tls_cert_file = {tmp_path}/a.pem\nsmtpd_tls_key_file = {tmp_path}/b.key\n"
    r = check_text(OK_BASE + bad, "/etc/postfix/main.cf")
    assert r.lines() == [f"/etc/postfix/main.cf, line 4: the private key does not match the certificate: use the "
                         f"key the certificate was made with (smtpd_tls_cert_file = {tmp_path}/a.pem, "
                         f"smtpd_tls_key_file = {tmp_path}/b.key)"]
    r = check_text(OK_BASE + f"smtpd_tls_cert_file = {tmp_path}/none.pem\n", "/etc/postfix/main.cf")
    assert any(f"line 3: smtpd_tls_cert_file = {tmp_path}/none.pem: no such file" in x for x in r.lines())


def test_lab_paths_map_into_state_dir(tmp_path):
    etc = tmp_path / "etc" / "postfix"
    etc.mkdir(parents=True)
    inst = debian_install("internet-site", hostname="mail.example.com", tls=False)
    (etc / "main.cf").write_text(inst.main_cf)
    r = check_file(etc / "main.cf", display_path="/etc/postfix/main.cf", path_map=lab_path_map(etc))
    assert [x for x in r.lines() if "/etc/aliases does not exist" in x]
    (tmp_path / "etc" / "aliases").write_text(inst.files["/etc/aliases"])
    r = check_file(etc / "main.cf", display_path="/etc/postfix/main.cf", path_map=lab_path_map(etc))
    assert r.ok and r.lines() == []
    assert lab_path_map("/etc/postfix") is None


def test_cli_exit_status(tmp_path, capsys):
    etc = tmp_path / "etc" / "postfix"
    etc.mkdir(parents=True)
    (etc / "main.cf").write_text(OK_BASE + "mydestination = localhost\n")
    assert main(["check", "-c", str(etc)]) == 0
    assert "warning: mydestination does not include" in capsys.readouterr().out
    (etc / "main.cf").write_text(OK_BASE + "inet_protocols = ipv5\n")
    assert main(["check", "-c", str(etc)]) == 1
    assert capsys.readouterr().out == (f'{etc}/main.cf, line 3: unknown inet_protocols value "ipv5": '
                                       "use ipv4, ipv6 or all\n")
    assert main(["check", "-c", str(tmp_path / "nowhere")]) == 1
    assert "No such file or directory" in capsys.readouterr().out


def test_load_checked_for_reload(tmp_path):
    from labmail.errors import ConfigError
    from labmail.mta.check import ConfigCheckError, load_checked
    cf_path = tmp_path / "main.cf"
    cf_path.write_text(OK_BASE + "inet_protocols = ipv5\nmynetworks = 1.2.3.4/99\n")
    with pytest.raises(ConfigError) as info:
        load_checked(cf_path)
    assert isinstance(info.value, ConfigCheckError)
    assert str(info.value).splitlines() == [
        '/etc/postfix/main.cf, line 3: unknown inet_protocols value "ipv5": use ipv4, ipv6 or all',
        '/etc/postfix/main.cf, line 4: bad network "1.2.3.4/99" in mynetworks: write address/prefix, '
        'e.g. 127.0.0.1/32 or [::1]/128']
    cf_path.write_text(OK_BASE + "mydestination = localhost\n")
    cf, restrictions, result = load_checked(cf_path)
    assert cf.get("mydestination") == "localhost" and result.ok and len(result.problems) == 1
    assert restrictions.lists["smtpd_relay_restrictions"][0][0] == "permit_mynetworks"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_NAMES = st.sampled_from(["mynetworks", "inet_protocols", "inet_interfaces", "mydestination", "myhostname",
                          "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "message_size_limit",
                          "mailbox_size_limit", "smtpd_helo_required", "maximal_queue_lifetime",
                          "mynetworks_style", "alias_maps", "smtpd_tls_cert_file", "home_mailbox",
                          "relay_domains", "compatibility_level", "smtpd_client_restrictions", "myorigin"])
_VALUES = st.text(alphabet="abc0123456789./:[]$ {},-_!#?=", max_size=25)


@given(st.booleans(), st.lists(st.tuples(_NAMES, _VALUES), max_size=8), st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_check_never_crashes(modern, pairs, junk):
    """Whatever main.cf holds, check answers with problems, never an exception."""
    text = ("compatibility_level = 3.6\n" if modern else "") + "".join(f"{n} = {v}\n" for n, v in pairs) + junk
    result = check_text(text, "/etc/postfix/main.cf")
    assert all(p.path == "/etc/postfix/main.cf" for p in result.problems)
    if result.ok:
        # what check accepts, the server can load and evaluate
        from labmail.mta.maincf import MainCf
        from labmail.mta.restrictions import Context, Restrictions, Stage
        cf = MainCf.from_text(text, "/etc/postfix/main.cf")
        r = Restrictions.from_config(cf)
        r.check(Stage.RCPT, Context("127.0.0.9", helo="h.example", sender="a@example.net",
                                    recipient="b@example.org"))
        for name in ("myhostname", "mydomain", "myorigin", "mydestination", "smtpd_banner", "mynetworks"):
            cf.get(name)
        cf.get_int("message_size_limit"), cf.get_bool("smtpd_helo_required")

"""Certificates: self-signed, the lab CA, dns-01 issuance through the lab DNS, renewal."""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import shutil
import stat
import subprocess
import threading

import pytest
from cryptography import x509

from labmail.clock import Clock
from labmail.net.certbot import Certbot
from labmail.net.certs import (CA_BUNDLE, SNAKEOIL_CERT, SNAKEOIL_KEY, IssuanceError, LabCA,
                               describe, generate_key, install_ca_bundle, jwk_thumbprint,
                               load_certs, load_key, make_csr, make_snakeoil,
                               openssl_req_command, parse_subj, self_signed, write_self_signed)
from labmail.net.dns import LabDNS, register_host
from labmail.net.resolver import LabResolver

START = "2026-11-27T09:00:00+00:00"


@pytest.fixture(scope="module")
def ec_key():
    return generate_key("ec")


@pytest.fixture(scope="module")
def rsa_key():
    return generate_key("rsa", 2048)


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return LabCA.load_or_create(tmp_path_factory.mktemp("ca"), clock=Clock.fixed(START))


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def lab_dns(loop):
    d = LabDNS()
    register_host(d, "mail.example.org", "127.0.0.3")
    asyncio.run_coroutine_threadsafe(d.start("127.0.0.1", 0), loop).result(5)
    yield d
    asyncio.run_coroutine_threadsafe(d.stop(), loop).result(5)


@pytest.fixture
def certbot(tmp_path, ca, lab_dns):
    clock = Clock.fixed(START)
    return Certbot(tmp_path / "etc/letsencrypt", ca, lab_dns, LabResolver(*lab_dns.address),
                   clock=clock)


def need_openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is not installed; apt-get install openssl")
    return path


# -- self-signed ---------------------------------------------------------------------
def test_self_signed_like_openssl_req_x509(rsa_key):
    now = dt.datetime(2026, 11, 27, 9, tzinfo=dt.timezone.utc)
    cert, key = self_signed("mail.example.com", key=rsa_key, now=now)
    info = describe(cert)
    assert info.subject == info.issuer == "CN=mail.example.com" and info.self_signed
    assert info.sans == ("mail.example.com",) and info.is_ca        # OpenSSL 3's v3_ca
    assert info.not_after - info.not_before == dt.timedelta(days=365)
    assert info.not_before == now and info.key == "RSA 2048 bits"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).critical


def test_write_self_signed_modes_and_files(tmp_path, ec_key):
    info = write_self_signed(tmp_path / "cert.pem", tmp_path / "key.pem", "mail.example.com",
                             sans=["mail.example.com", "localhost"], key=ec_key)
    assert stat.S_IMODE(os.stat(tmp_path / "key.pem").st_mode) == 0o600
    assert (tmp_path / "key.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert describe(load_certs(tmp_path / "cert.pem")[0]) == info
    assert load_key(tmp_path / "key.pem").public_key() == ec_key.public_key()


def test_openssl_req_command_text():
    assert openssl_req_command("mail.example.com", "c.pem", "k.pem", days=10) == (
        "openssl req -x509 -newkey rsa:2048 -nodes -days 10 -keyout k.pem -out c.pem "
        "-subj /CN=mail.example.com -addext subjectAltName=DNS:mail.example.com")


def test_parse_subj():
    assert parse_subj("/C=DE/O=Lab/CN=x.example").rfc4514_string() == "CN=x.example,O=Lab,C=DE"
    for bad in ("CN=x", "/XX=1", "/CN"):
        with pytest.raises(ValueError):
            parse_subj(bad)


def test_labmail_openssl_req_command(tmp_path, capsys):
    from labmail.cli import main
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    rc = main(["openssl-req", "-x509", "-newkey", "ec", "-nodes", "-days", "365",
               "-keyout", str(key), "-out", str(cert), "-subj", "/CN=mail.example.com",
               "-addext", "subjectAltName=DNS:mail.example.com,DNS:localhost"])
    assert rc == 0
    info = describe(load_certs(cert)[0])
    assert info.sans == ("mail.example.com", "localhost") and info.subject == "CN=mail.example.com"
    assert main(["openssl-req", "-x509", "-newkey", "ec", "-keyout", str(key), "-out", str(cert),
                 "-subj", "CN=x"]) == 1
    assert "must start with '/'" in capsys.readouterr().err
    missing = tmp_path / "no-such-dir" / "k.pem"
    assert main(["openssl-req", "-x509", "-newkey", "ec", "-keyout", str(missing), "-out",
                 str(cert), "-subj", "/CN=x"]) == 1
    assert "No such file or directory" in capsys.readouterr().err and not missing.parent.exists()


@pytest.mark.realtool
def test_real_openssl_reads_our_self_signed(tmp_path, rsa_key):
    openssl = need_openssl()
    write_self_signed(tmp_path / "c.pem", tmp_path / "k.pem", "mail.example.com", key=rsa_key)
    out = subprocess.run([openssl, "x509", "-in", str(tmp_path / "c.pem"), "-noout", "-subject",
                          "-issuer", "-ext", "subjectAltName"], capture_output=True, text=True,
                         timeout=10).stdout
    assert "subject=CN = mail.example.com" in out and "DNS:mail.example.com" in out
    ok = subprocess.run([openssl, "pkey", "-in", str(tmp_path / "k.pem"), "-noout", "-check"],
                        capture_output=True, text=True, timeout=10)
    assert ok.returncode == 0


# -- the lab CA ------------------------------------------------------------------------
def test_ca_persists_and_chains(ca):
    again = LabCA.load_or_create(ca.directory)
    assert again.root.fingerprint(again.root.signature_hash_algorithm) == \
        ca.root.fingerprint(ca.root.signature_hash_algorithm)
    assert describe(ca.intermediate).issuer == describe(ca.root).subject
    assert stat.S_IMODE(os.stat(ca.directory / "root.key").st_mode) == 0o600
    issued = ca.issue(["mail.example.org"], key=generate_key("ec"))
    issued.cert.verify_directly_issued_by(ca.intermediate)
    ca.intermediate.verify_directly_issued_by(ca.root)
    fixed = LabCA.load_or_create(ca.directory, clock=Clock.fixed(START), real_time=False)
    issued = fixed.issue(["mail.example.org"], key=generate_key("ec"))
    assert describe(issued.cert).not_before == dt.datetime(2026, 11, 27, 8, tzinfo=dt.timezone.utc)


def test_certificates_are_valid_in_real_time_whatever_the_lab_clock(ca):
    """A fixed clock years away still gives certificates that real TLS accepts today."""
    real_now = dt.datetime.now(dt.timezone.utc)
    for start in ("2019-03-01T00:00:00+00:00", "2031-07-01T00:00:00+00:00"):
        clock = Clock.fixed(start)
        mapped = LabCA.load_or_create(ca.directory, clock=clock)
        info = describe(mapped.issue(["mail.example.org"], key=generate_key("ec")).cert)
        assert info.not_before <= real_now <= info.not_after
        clock.advance(days=100)      # issued after advancing: still not "not yet valid"
        info = describe(mapped.issue(["mail.example.org"], key=generate_key("ec")).cert)
        assert info.not_before <= real_now
        assert info.not_after - real_now > dt.timedelta(days=189)


def test_dns01_txt_value_is_rfc8555(ca, ec_key):
    order = ca.new_order(["mail.example.org"], ec_key, token=lambda: "tok")
    ch = order.challenges[0]
    keyauth = "tok." + jwk_thumbprint(ec_key)
    expected = base64.urlsafe_b64encode(hashlib.sha256(keyauth.encode()).digest()).rstrip(b"=")
    assert ch.txt_value == expected.decode() and ch.record_name == "_acme-challenge.mail.example.org"


def test_jwk_thumbprint_rfc7638_example():
    # RFC 7638 §3.1's RSA key and thumbprint.
    from cryptography.hazmat.primitives.asymmetric import rsa
    n_b64 = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
             "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65Y"
             "GjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrd"
             "kt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnq"
             "DKgw")
    n = int.from_bytes(base64.urlsafe_b64decode(n_b64 + "=" * (-len(n_b64) % 4)), "big")

    class _Key:   # jwk_thumbprint only needs .public_key()
        def public_key(self):
            return rsa.RSAPublicNumbers(65537, n).public_key()

    assert jwk_thumbprint(_Key()) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_finalize_refuses_unready_orders_and_wrong_csrs(ca, ec_key):
    order = ca.new_order(["mail.example.org"], ec_key)
    with pytest.raises(IssuanceError, match="not ready"):
        ca.finalize(order, make_csr(ec_key, ["mail.example.org"]))
    order.status = "ready"
    with pytest.raises(IssuanceError, match="same identifiers"):
        ca.finalize(order, make_csr(ec_key, ["evil.example.org"]))


# -- dns-01 issuance through the running lab DNS -------------------------------------------
def test_certonly_end_to_end(certbot, lab_dns, ca):
    lineage = certbot.certonly(["mail.example.org"])
    live = certbot.config_dir / "live" / "mail.example.org"
    for name in ("cert", "chain", "fullchain", "privkey"):
        link = live / f"{name}.pem"
        assert os.readlink(link) == f"../../archive/mail.example.org/{name}1.pem"
    assert stat.S_IMODE(os.stat(live / "privkey.pem").st_mode) == 0o600
    leaf, inter = load_certs(lineage.fullchain)
    assert describe(leaf).sans == ("mail.example.org",) and inter == ca.intermediate
    assert load_certs(lineage.chain) == [ca.intermediate]
    assert load_key(lineage.privkey).public_key() == leaf.public_key()
    assert lineage.info.not_after - lineage.info.not_before >= dt.timedelta(days=90)
    # the CA really asked the DNS server, and the TXT record is gone afterwards
    asked = [e for e in lab_dns.query_log if e.qname.startswith("_acme-challenge.")]
    assert asked and asked[-1].qtype == "TXT" and asked[-1].rcode == "NOERROR"
    assert not [r for r in lab_dns.records() if r.name.startswith("_acme-challenge")]
    assert (certbot.config_dir / "renewal" / "mail.example.org.conf").exists()


@pytest.mark.realtool
def test_openssl_verifies_the_issued_chain(certbot, ca):
    openssl = need_openssl()
    lineage = certbot.certonly(["mail.example.org"])
    ok = subprocess.run([openssl, "verify", "-CAfile", str(ca.root_path), "-untrusted",
                         str(lineage.chain), str(lineage.cert)], capture_output=True, text=True,
                        timeout=10)
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": OK")
    bad = subprocess.run([openssl, "verify", "-CAfile", str(ca.root_path), str(lineage.cert)],
                         capture_output=True, text=True, timeout=10)
    assert bad.returncode != 0 and "unable to get local issuer certificate" in bad.stdout + bad.stderr


def test_step_by_step_with_the_student_publishing(certbot, lab_dns):
    order = certbot.begin(["mail.example.org"])
    with pytest.raises(IssuanceError) as missing:
        certbot.finish(order)
    assert ("DNS problem: NXDOMAIN looking up TXT for _acme-challenge.mail.example.org"
            in str(missing.value))
    order = certbot.begin(["mail.example.org"])
    lab_dns.add("_acme-challenge.mail.example.org", "TXT", '"not-the-value"')
    with pytest.raises(IssuanceError, match='Incorrect TXT record "not-the-value"'):
        certbot.finish(order)
    lab_dns.remove("_acme-challenge.mail.example.org")
    lab_dns.add("_acme-challenge.mail.example.org", "A", "127.0.0.9")
    with pytest.raises(IssuanceError, match="No TXT record found"):
        certbot.finish(certbot.begin(["mail.example.org"]))
    lab_dns.remove("_acme-challenge.mail.example.org")
    order = certbot.begin(["mail.example.org"])
    ch = order.challenges[0]
    lab_dns.add(ch.record_name, "TXT", ch.txt_value)
    assert certbot.finish(order).version == 1


def test_seeded_ids_make_challenges_repeatable(tmp_path, ca, lab_dns):
    from labmail.clock import IdGenerator
    values = []
    for run in range(2):
        bot = Certbot(tmp_path / f"le{run}", ca, lab_dns, LabResolver(*lab_dns.address),
                      clock=Clock.fixed(START), ids=IdGenerator(seed=7))
        values.append(bot.begin(["mail.example.org"]).challenges[0].txt_value)
    assert values[0] == values[1]


def test_certonly_publishing_by_dns_update(tmp_path, ca, lab_dns):
    """The host side over the wire too: RFC 2136 updates, as certbot's rfc2136 plugin."""
    from labmail.net.certbot import DnsUpdatePublisher
    bot = Certbot(tmp_path / "le", ca, DnsUpdatePublisher(lab_dns.address),
                  LabResolver(*lab_dns.address), clock=Clock.fixed(START))
    lineage = bot.certonly(["mail.example.org"])
    assert lineage.version == 1
    kinds = [e.qtype for e in lab_dns.query_log]
    assert kinds.count("UPDATE") == 2 and "TXT" in kinds          # publish, check, clean up
    assert not [r for r in lab_dns.records() if r.name.startswith("_acme-challenge")]
    lineage = asyncio.run(bot.acertonly(["mail.example.org"]))
    assert lineage.version == 2 and [e.qtype for e in lab_dns.query_log].count("UPDATE") == 4


def test_async_certonly(certbot):
    lineage = asyncio.run(certbot.acertonly(["mail.example.org"]))
    assert lineage.version == 1 and lineage.cert.exists()


def test_renewal_follows_the_lab_clock(certbot):
    first = certbot.certonly(["mail.example.org"])
    [result] = certbot.renew()
    assert not result.renewed and "not yet due" in result.message
    certbot.clock.advance(days=61)              # 29 days left < 30
    [result] = certbot.renew()
    assert result.renewed and result.not_after > first.info.not_after
    live = certbot.config_dir / "live" / "mail.example.org"
    assert os.readlink(live / "cert.pem").endswith("cert2.pem")
    assert (certbot.config_dir / "archive" / "mail.example.org" / "cert1.pem").exists()
    [again] = asyncio.run(certbot.arenew(force=True))
    assert again.renewed and [l.version for l in certbot.certificates()] == [3]


# -- what every new host gets ------------------------------------------------------------
def test_snakeoil_signed_by_the_lab_ca(tmp_path, ca, ec_key):
    cert_path, key_path = make_snakeoil(tmp_path, "mail.example.org", ca, key=ec_key)
    assert cert_path == tmp_path / SNAKEOIL_CERT and key_path == tmp_path / SNAKEOIL_KEY
    leaf, inter = load_certs(cert_path)
    info = describe(leaf)
    assert info.sans == ("mail.example.org", "localhost") and inter == ca.intermediate
    assert info.not_after - info.not_before >= dt.timedelta(days=3650)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o640
    before = cert_path.read_bytes()
    make_snakeoil(tmp_path, "mail.example.org", ca)          # kept, as the package does
    assert cert_path.read_bytes() == before
    bundle = install_ca_bundle(tmp_path, ca)
    assert bundle == tmp_path / CA_BUNDLE and load_certs(bundle) == [ca.root]


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["C", "ST", "L", "O", "OU", "CN"]),
                          st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                                blacklist_characters="/=+,;\\\"<>#"),
                                  min_size=1, max_size=20)), min_size=1, max_size=5))
def test_parse_subj_keeps_every_field(fields):
    from cryptography.x509.oid import NameOID
    fields = [(k, v[:2]) if k == "C" else (k, v) for k, v in fields]
    try:
        name = parse_subj("/" + "/".join(f"{k}={v}" for k, v in fields))
    except ValueError:
        # only the country code has a length rule (two letters) in cryptography
        assert any(k == "C" and len(v) != 2 for k, v in fields)
        return
    oids = {"C": NameOID.COUNTRY_NAME, "ST": NameOID.STATE_OR_PROVINCE_NAME,
            "L": NameOID.LOCALITY_NAME, "O": NameOID.ORGANIZATION_NAME,
            "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "CN": NameOID.COMMON_NAME}
    assert [(a.oid, a.value) for a in name] == [(oids[k], v) for k, v in fields]


@pytest.mark.realtool
def test_labmail_openssl_req_matches_real_openssl_req(tmp_path):
    """Same subject, issuer, validity and extensions as the real command (plus the SAN)."""
    openssl = need_openssl()
    from labmail.cli import main
    args = ["-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365", "-subj", "/CN=mail.example.com"]
    subprocess.run([openssl, "req", *args, "-keyout", str(tmp_path / "rk.pem"), "-out",
                    str(tmp_path / "rc.pem")], capture_output=True, check=True, timeout=30)
    assert main(["openssl-req", *args, "-keyout", str(tmp_path / "ok.pem"), "-out",
                 str(tmp_path / "oc.pem")]) == 0

    def facts(path):
        text = subprocess.run([openssl, "x509", "-in", str(path), "-noout", "-text"],
                              capture_output=True, text=True, check=True, timeout=10).stdout
        exts = [line.strip() for line in text.splitlines() if line.strip().startswith("X509v3 ")]
        subject = [line.strip() for line in text.splitlines()
                   if line.strip().startswith(("Subject:", "Issuer:", "Public-Key:"))]
        return exts, subject

    real_exts, real_subject = facts(tmp_path / "rc.pem")
    our_exts, our_subject = facts(tmp_path / "oc.pem")
    assert our_subject == real_subject
    assert [e for e in our_exts if "Alternative Name" not in e] == real_exts
    assert "X509v3 Subject Alternative Name:" in our_exts
    real_info = describe(load_certs(tmp_path / "rc.pem")[0])
    our_info = describe(load_certs(tmp_path / "oc.pem")[0])
    assert our_info.not_after - our_info.not_before == real_info.not_after - real_info.not_before
    assert oct(os.stat(tmp_path / "ok.pem").st_mode & 0o777) == \
        oct(os.stat(tmp_path / "rk.pem").st_mode & 0o777)

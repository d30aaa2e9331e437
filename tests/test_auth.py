"""passwd-file users and password schemes (checked against doveadm and glibc)."""
from __future__ import annotations

import shutil
import subprocess
import warnings

warnings.filterwarnings("ignore", "'crypt' is deprecated", DeprecationWarning)

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labmail.access.auth import (SCHEMES, PasswdFile, add_user, hash_password, remove_user,
                                 sha_crypt, verify, verify_password)

# Known answers from doveadm pw (Dovecot 2.3) for the password "secret".
DOVEADM = [
    "{SHA512-CRYPT}$6$rT4psIkjEVDgyKFD$75BxfLS0eXGUc.Aamsry3tTQJiyiByL8u4C12TdsqCT33FzKwqpfR2I/.FMTO3V6fB3iplF1eMhpyZLBvpKhd0",
    "{SHA256-CRYPT}$5$rounds=6000$XPPg1m7ROSnwPNNf$GF2GF7IL5H.m3rs50X/CYlb7Yt46Lox00ipQg46xmF9",
    "{SSHA256}y6hgfmnKp/iOGmjDYx2AcFW7v9ox5ocPPyyYgIwSJuqC2dNR",
    "{SSHA512}bEPfOOBY8XJLsFJtXHckBaisw8GGwj5NC2D90ZzTUvQut+1aVodravB8dsaHSW+thFkyfthPGpAJmWk/IGylDnWFHlM=",
    "{PLAIN}secret",
]


@pytest.mark.parametrize("stored", DOVEADM)
def test_known_answers_from_doveadm(stored):
    assert verify_password("secret", stored)
    assert not verify_password("Secret", stored)


def test_glibc_sha_crypt_vectors():
    # what glibc's crypt(3) answers for these inputs
    assert sha_crypt("Hello world!", "saltstring") == (
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJu"
        "esI68u4OTLiBFdcbYEdFCoEOfaS35inz1")
    assert sha_crypt("Hello world!", "saltstring", bits=256) == (
        "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5")
    assert sha_crypt("Hello world!", "saltstringsaltstring", rounds=10000) == (
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vO"
        "uZeHBy/YTBmSK6H9qs/y3RnOaw5v.")


@settings(max_examples=20, deadline=None)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 !.", max_size=30),
       st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./",
               min_size=1, max_size=16),
       st.sampled_from([512, 256]))
def test_same_as_the_c_library(password, salt, bits):
    crypt = pytest.importorskip("crypt", reason="the crypt module is gone (Python 3.13+)")
    ours = sha_crypt(password, salt, bits=bits)
    assert ours == crypt.crypt(password, ("$6$" if bits == 512 else "$5$") + salt)


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scheme_round_trips(scheme):
    stored = hash_password("pässwörd 1", scheme)
    assert stored.startswith("{" + scheme + "}")
    assert verify_password("pässwörd 1", stored)
    assert not verify_password("password 1", stored)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="unknown password scheme"):
        hash_password("x", "ROT13")
    assert not verify_password("x", "{ROT13}k")


def test_passwd_file(tmp_path):
    users = tmp_path / "etc/dovecot/users"
    add_user(users, "alice", "secret", home="/home/alice", uid=1001, gid=1001)
    add_user(users, "bob", "pw", scheme="PLAIN")
    assert users.read_text().splitlines()[1] == "bob:{PLAIN}pw::::::"
    f = PasswdFile(users)
    assert f.users() == ["alice", "bob"]
    assert f.lookup("alice").home == "/home/alice" and f.lookup("alice").uid == "1001"
    assert f.lookup("bob").plaintext() == "pw" and f.lookup("alice").plaintext() is None
    assert verify(users, "alice", "secret") and not verify(users, "alice", "pw")
    add_user(users, "alice", "new")                    # replace, keep the order
    assert f.users() == ["alice", "bob"] and f.verify("alice", "new")
    remove_user(users, "bob")
    assert f.users() == ["alice"] and not f.verify("bob", "pw")
    assert oct(users.stat().st_mode)[-3:] == "640"


def test_bad_names(tmp_path):
    with pytest.raises(ValueError):
        add_user(tmp_path / "users", "a:b", "x")
    with pytest.raises(ValueError):
        add_user(tmp_path / "users", "a", "x\ny")


def test_comments_and_short_lines(tmp_path):
    p = tmp_path / "users"
    p.write_text("# users\n\ncarol:{PLAIN}c\n")
    assert PasswdFile(p).verify("carol", "c")


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"),
               max_size=40))
def test_sha512_crypt_round_trip(password):
    assert verify_password(password, hash_password(password, "SHA512-CRYPT"))


@pytest.mark.realtool
@pytest.mark.parametrize("scheme", ["SHA512-CRYPT", "SHA256-CRYPT", "SSHA256", "SSHA512", "PLAIN"])
def test_doveadm_accepts_our_hashes(scheme):
    if not shutil.which("doveadm"):
        pytest.skip("doveadm not installed; apt-get install dovecot-core")
    stored = hash_password("s3cret!", scheme)
    r = subprocess.run(["doveadm", "pw", "-t", stored, "-p", "s3cret!"],
                       capture_output=True, text=True, timeout=30)
    assert "(verified)" in r.stdout + r.stderr, r.stdout + r.stderr

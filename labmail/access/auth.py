"""Users in a Dovecot passwd-file, password schemes, and failed-login delays.

A passwd-file has one user per line, like ``/etc/passwd`` with the password
in Dovecot's ``{SCHEME}data`` form::

    alice:{SHA512-CRYPT}$6$Vn2n...:1001:1001::/home/alice::
    bob:{PLAIN}secret:1002:1002::/home/bob::

Schemes: ``PLAIN``/``CLEARTEXT`` (needed for APOP, which hashes the
password with the greeting's challenge), ``SHA512-CRYPT``/``SHA256-CRYPT``
(glibc's SHA-crypt, what ``doveadm pw`` makes by default), ``SSHA512``/
``SSHA256`` (salted SHA-2, base64) and plain ``SHA512``/``SHA256``.

>>> import tempfile, pathlib
>>> users = pathlib.Path(tempfile.mkdtemp()) / "users"
>>> add_user(users, "alice", "secret", home="/home/alice")
>>> verify(users, "alice", "secret"), verify(users, "alice", "wrong"), verify(users, "eve", "x")
(True, False, False)
>>> users.read_text().startswith("alice:{SHA512-CRYPT}$6$")
True
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Union

__all__ = ["PasswdEntry", "PasswdFile", "hash_password", "verify_password", "sha_crypt",
           "add_user", "remove_user", "verify", "SCHEMES", "DEFAULT_SCHEME"]

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_SCHEME = "SHA512-CRYPT"
_B64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_lock = threading.Lock()

# -- SHA-crypt (Ulrich Drepper's specification, glibc $5$ / $6$) -------------
# The order in which the 64 (or 32) digest bytes are encoded, three at a time.
_ORDER_512 = [(0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4),
              (47, 5, 26), (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51),
              (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35),
              (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19),
              (62, 20, 41)]
_ORDER_256 = [(0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
              (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29)]


def _b64_24(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_B64[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat(unit: bytes, length: int) -> bytes:
    return (unit * (length // len(unit) + 1))[:length]


def sha_crypt(password: str, salt: str, rounds: Optional[int] = None, bits: int = 512) -> str:
    """glibc's ``crypt()`` with ``$6$`` (SHA-512) or ``$5$`` (SHA-256).

    >>> sha_crypt("secret", "saltsalt")[:12]
    '$6$saltsalt$'
    """
    hfn = hashlib.sha512 if bits == 512 else hashlib.sha256
    n = 64 if bits == 512 else 32
    pw, sl = password.encode(), salt.encode()[:16]
    explicit = rounds is not None
    rounds = 5000 if rounds is None else max(1000, min(999_999_999, rounds))
    b = hfn(pw + sl + pw).digest()
    a = hfn(pw + sl)
    i = len(pw)
    while i > n:
        a.update(b)
        i -= n
    a.update(b[:i])
    i = len(pw)
    while i:
        a.update(b if i & 1 else pw)
        i >>= 1
    c = a.digest()
    p = _repeat(hfn(pw * len(pw)).digest(), len(pw)) if pw else b""
    s = _repeat(hfn(sl * (16 + c[0])).digest(), len(sl)) if sl else b""
    for r in range(rounds):
        h = hfn(p if r & 1 else c)
        if r % 3:
            h.update(s)
        if r % 7:
            h.update(p)
        h.update(c if r & 1 else p)
        c = h.digest()
    if bits == 512:
        enc = "".join(_b64_24(c[x], c[y], c[z], 4) for x, y, z in _ORDER_512)
        enc += _b64_24(0, 0, c[63], 2)
    else:
        enc = "".join(_b64_24(c[x], c[y], c[z], 4) for x, y, z in _ORDER_256)
        enc += _b64_24(0, c[31], c[30], 3)
    prefix = "$6$" if bits == 512 else "$5$"
    if explicit:
        prefix += f"rounds={rounds}$"
    return f"{prefix}{salt[:16]}${enc}"


def _crypt_verify(password: str, stored: str) -> bool:
    parts = stored.split("$")
    if len(parts) < 4 or parts[1] not in ("5", "6"):
        return False
    bits = 512 if parts[1] == "6" else 256
    rounds = None
    salt = parts[2]
    if salt.startswith("rounds=") and len(parts) >= 5:
        try:
            rounds = int(salt[7:])
        except ValueError:
            return False
        salt = parts[3]
    return hmac.compare_digest(sha_crypt(password, salt, rounds, bits), stored)


def _salt(n: int = 16) -> str:
    return "".join(secrets.choice(_B64) for _ in range(n))


def _ssha(alg: str) -> Dict[str, Callable]:
    def make(password: str) -> str:
        salt = secrets.token_bytes(4)
        return base64.b64encode(hashlib.new(alg, password.encode() + salt).digest() + salt).decode()

    def check(password: str, data: str) -> bool:
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            return False
        size = hashlib.new(alg).digest_size
        digest, salt = raw[:size], raw[size:]
        return hmac.compare_digest(hashlib.new(alg, password.encode() + salt).digest(), digest)
    return {"hash": make, "verify": check}


def _plain_sha(alg: str) -> Dict[str, Callable]:
    def make(password: str) -> str:
        return base64.b64encode(hashlib.new(alg, password.encode()).digest()).decode()

    def check(password: str, data: str) -> bool:
        return hmac.compare_digest(make(password), data)
    return {"hash": make, "verify": check}


#: scheme -> {"hash": password -> data, "verify": (password, data) -> bool}
SCHEMES: Dict[str, Dict[str, Callable]] = {
    "PLAIN": {"hash": lambda p: p, "verify": lambda p, d: hmac.compare_digest(p.encode(), d.encode())},
    "SHA512-CRYPT": {"hash": lambda p: sha_crypt(p, _salt(), bits=512), "verify": _crypt_verify},
    "SHA256-CRYPT": {"hash": lambda p: sha_crypt(p, _salt(), bits=256), "verify": _crypt_verify},
    "CRYPT": {"hash": lambda p: sha_crypt(p, _salt(), bits=512), "verify": _crypt_verify},
    "SSHA512": _ssha("sha512"),
    "SSHA256": _ssha("sha256"),
    "SHA512": _plain_sha("sha512"),
    "SHA256": _plain_sha("sha256"),
}
SCHEMES["CLEARTEXT"] = SCHEMES["PLAIN"]


def _split_scheme(stored: str, default: str = "PLAIN") -> tuple:
    if stored.startswith("{") and "}" in stored:
        scheme, _, data = stored[1:].partition("}")
        return scheme.upper(), data
    if stored.startswith(("$6$", "$5$")):
        return "CRYPT", stored
    return default.upper(), stored


def hash_password(password: str, scheme: str = DEFAULT_SCHEME) -> str:
    """``{SCHEME}data`` for *password*, as ``doveadm pw -s SCHEME`` prints it.

    >>> hash_password("secret", "PLAIN")
    '{PLAIN}secret'
    """
    scheme = scheme.upper()
    if scheme not in SCHEMES:
        raise ValueError(f"unknown password scheme {scheme}; known: {', '.join(sorted(SCHEMES))}")
    return "{" + scheme + "}" + SCHEMES[scheme]["hash"](password)


def verify_password(password: str, stored: str, default_scheme: str = "PLAIN") -> bool:
    """Does *password* match the stored ``{SCHEME}data``?

    >>> verify_password("secret", hash_password("secret", "SSHA256"))
    True
    """
    scheme, data = _split_scheme(stored, default_scheme)
    impl = SCHEMES.get(scheme)
    return bool(impl and impl["verify"](password, data))


@dataclass(frozen=True)
class PasswdEntry:
    """One line of a passwd-file."""

    user: str
    password: str
    uid: str = ""
    gid: str = ""
    gecos: str = ""
    home: str = ""
    shell: str = ""
    extra: str = ""

    def line(self) -> str:
        return ":".join([self.user, self.password, self.uid, self.gid, self.gecos,
                         self.home, self.shell, self.extra])

    @property
    def scheme(self) -> str:
        return _split_scheme(self.password)[0]

    def plaintext(self) -> Optional[str]:
        """The password itself if stored in a plaintext scheme (APOP needs it)."""
        scheme, data = _split_scheme(self.password)
        return data if scheme in ("PLAIN", "CLEARTEXT") else None


class PasswdFile:
    """A passwd-file, re-read when it changes on disk.

    >>> import tempfile, pathlib
    >>> f = PasswdFile(pathlib.Path(tempfile.mkdtemp()) / "users")
    >>> f.lookup("alice") is None
    True
    """

    def __init__(self, path: PathLike, default_scheme: str = "PLAIN") -> None:
        self.path = Path(path)
        self.default_scheme = default_scheme
        self._cache: Dict[str, PasswdEntry] = {}
        self._stamp: Optional[tuple] = None

    def _load(self) -> Dict[str, PasswdEntry]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._cache, self._stamp = {}, None
            return self._cache
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            entries: Dict[str, PasswdEntry] = {}
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                if not raw.strip() or raw.lstrip().startswith("#"):
                    continue
                fields = raw.split(":", 7)
                fields += [""] * (8 - len(fields))
                entries[fields[0]] = PasswdEntry(*fields)
            self._cache, self._stamp = entries, stamp
        return self._cache

    def users(self) -> List[str]:
        """User names in file order."""
        return list(self._load())

    def lookup(self, user: str) -> Optional[PasswdEntry]:
        """The entry of *user*, or None."""
        return self._load().get(user)

    def verify(self, user: str, password: str) -> bool:
        """True if *user* exists and *password* matches."""
        entry = self.lookup(user)
        if entry is None:
            # hash anyway so unknown users take as long as wrong passwords
            verify_password(password, "{SHA512-CRYPT}$6$xxxxxxxxxxxxxxxx$x")
            return False
        return verify_password(password, entry.password, self.default_scheme)


def add_user(path: PathLike, name: str, password: str, scheme: str = DEFAULT_SCHEME, *,
             uid: Union[int, str] = "", gid: Union[int, str] = "", home: str = "",
             gecos: str = "") -> None:
    """Add or replace *name* in the passwd-file at *path* (atomic rewrite)."""
    if not name or any(c in name for c in ":\n\r\x00"):
        raise ValueError(f"invalid user name {name!r}")
    if "\n" in password:
        raise ValueError("a password cannot contain a newline")
    entry = PasswdEntry(name, hash_password(password, scheme), str(uid), str(gid), gecos, home)
    _rewrite(Path(path), name, entry)


def remove_user(path: PathLike, name: str) -> None:
    """Remove *name* from the passwd-file (no error if absent)."""
    _rewrite(Path(path), name, None)


def _rewrite(path: Path, name: str, entry: Optional[PasswdEntry]) -> None:
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        out, done = [], False
        for line in lines:
            if line.split(":", 1)[0] == name:
                if entry is not None and not done:
                    out.append(entry.line())
                    done = True
                continue
            out.append(line)
        if entry is not None and not done:
            out.append(entry.line())
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(ln + "\n" for ln in out), encoding="utf-8")
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)


def verify(path: PathLike, user: str, password: str) -> bool:
    """Check *user*'s *password* against the passwd-file at *path*."""
    return PasswdFile(path).verify(user, password)

"""``postfix check`` for the lab: every problem of a main.cf as ``file, line N: what and how to fix``.

Errors are what makes Postfix refuse to start or fail at run time (syntax,
bad macros, bad numbers, a bad network in ``mynetworks``, an unknown
restriction, a missing TLS file, a key that does not belong to its
certificate …). Warnings are what Postfix only warns about, or what is almost
certainly not what the student meant (``mydestination`` without
``$myhostname``, a misspelt parameter name).

>>> from labmail.mta.maincf import MainCf
>>> r = check_text("compatibility_level = 3.6\\nmynetworks = 127.0.0.1/33\\n"
...                "inet_protocols = ipv5\\n", "/etc/postfix/main.cf")
>>> for line in r.lines(): print(line)
/etc/postfix/main.cf, line 2: bad network "127.0.0.1/33" in mynetworks: write address/prefix, e.g. 127.0.0.1/32 or [::1]/128
/etc/postfix/main.cf, line 3: unknown inet_protocols value "ipv5": use ipv4, ipv6 or all
>>> r.ok
False
"""
from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from .access_maps import FILE_TYPES, TABLE_TYPES
from .maincf import MainCf, parse_main_cf, parse_network, split_list
from .params import CATALOGUE, Kind, RAW_PARAMETERS

__all__ = ["Problem", "CheckResult", "check_text", "check_file", "check_config", "check_host", "lab_path_map",
           "load_checked", "ConfigCheckError"]


@dataclass(frozen=True)
class Problem:
    """One finding; ``line`` is None for values that come from the defaults."""
    path: str
    line: Optional[int]
    message: str
    severity: str = "error"       # or "warning"

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}, line {self.line}"
        tag = "warning: " if self.severity == "warning" else ""
        return f"{where}: {tag}{self.message}"


@dataclass(frozen=True)
class CheckResult:
    problems: Tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when nothing would stop Postfix (warnings allowed)."""
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> Tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    def lines(self) -> List[str]:
        return [str(p) for p in self.problems]


def lab_path_map(config_dir: str | Path) -> Optional[Callable[[str], Path]]:
    """For a lab state directory ``.../etc/postfix``, map ``/x`` to ``.../x``; None for /etc/postfix."""
    d = Path(config_dir).resolve()
    if d.parts[-2:] == ("etc", "postfix") and d != Path("/etc/postfix"):
        root = d.parent.parent
        return lambda p: root / str(p).lstrip("/")
    return None


class _Checker:
    def __init__(self, cf: MainCf, path_map: Optional[Callable[[str], Path]]) -> None:
        self.cf = cf
        self.path_map = path_map
        self.problems: List[Problem] = []

    def line(self, name: str) -> Optional[int]:
        entry = self.cf.entries().get(name)
        return entry.line if entry else None

    def add(self, name: Optional[str], message: str, severity: str = "error", line: Optional[int] = None) -> None:
        self.problems.append(Problem(self.cf.path, line if line is not None else (self.line(name) if name else None),
                                     message, severity))

    def real(self, path: str) -> Path:
        return Path(self.path_map(path)) if self.path_map else Path(path)

    def value(self, name: str) -> Optional[str]:
        try:
            return self.cf.get(name)
        except ConfigError:
            return None         # reported by the macro pass

    # -- passes ---------------------------------------------------------------

    def macros_and_types(self) -> None:
        for name in self.cf.entries():
            if name in RAW_PARAMETERS:
                continue
            try:
                value = self.cf.get(name)
            except ConfigError as exc:
                self.add(name, f"{exc.message} in {name}: write $name, ${{name}} or $(name); "
                               f"a literal $ is written $$", line=exc.line or self.line(name))
                continue
            param = CATALOGUE.get(name)
            if param is None:
                continue
            try:
                if param.kind is Kind.BOOL and value.strip().lower() not in ("yes", "no"):
                    self.add(name, f"bad boolean value {name} = {value}: use yes or no")
                elif param.kind in (Kind.INT, Kind.SIZE) and not re.fullmatch(r"-?\d+", value.strip()):
                    self.add(name, f"bad numerical value {name} = {value}: use a whole number"
                                   + (" of bytes" if param.kind is Kind.SIZE else ""))
                elif param.kind is Kind.TIME:
                    self.cf.get_time(name)
            except ConfigError as exc:
                self.add(name, exc.message)

    def unused(self) -> None:
        for name in self.cf.unused():
            close = difflib.get_close_matches(name, CATALOGUE.keys(), n=1, cutoff=0.85)
            hint = f": did you mean {close[0]}?" if close else ": Postfix ignores it"
            self.add(name, f"unused parameter: {name}={self.cf.raw(name)}{hint}", "warning")

    def networks(self) -> None:
        style = self.value("mynetworks_style")
        if style is not None and style.strip() not in ("host", "subnet", "class"):
            self.add("mynetworks_style", f'unknown mynetworks_style value "{style}": use host, subnet or class')
        if "mynetworks" not in self.cf.entries() and style is not None and style.strip() not in ("host", "subnet", "class"):
            return
        value = self.value("mynetworks")
        if value is None:
            return
        for item in split_list(value):
            item = item.lstrip("!")
            if re.match(r"^[a-z0-9]+:[^:]", item) and not item.startswith("["):
                continue            # a type:table
            if ":" in item and not item.startswith("["):
                self.add("mynetworks", f'bad network "{item}" in mynetworks: IPv6 networks are written in '
                                       f'brackets, e.g. [::1]/128')
                continue
            if not re.match(r"^[\[0-9]", item):
                continue            # host names are allowed
            try:
                parse_network(item)
            except ValueError:
                try:
                    inner = item.strip("[]") if "/" not in item else item.replace("[", "").replace("]", "")
                    net = ipaddress.ip_network(inner, strict=False)
                    fixed = f"[{net.network_address}]/{net.prefixlen}" if net.version == 6 else str(net)
                    self.add("mynetworks", f'non-null host address bits in "{item}": write "{fixed}" instead',
                             "warning")
                except ValueError:
                    self.add("mynetworks", f'bad network "{item}" in mynetworks: write address/prefix, '
                                           f"e.g. 127.0.0.1/32 or [::1]/128")

    def protocols_and_interfaces(self) -> None:
        protocols = self.value("inet_protocols")
        for word in split_list(protocols or ""):
            if word.lower() not in ("ipv4", "ipv6", "all"):
                self.add("inet_protocols", f'unknown inet_protocols value "{word}": use ipv4, ipv6 or all')
        interfaces = split_list(self.value("inet_interfaces") or "")
        for word in interfaces:
            if word in ("all", "loopback-only") and len(interfaces) > 1:
                self.add("inet_interfaces", f'"{word}" must be the only value of inet_interfaces')

    def destinations(self) -> None:
        host = self.value("myhostname")
        dest = self.value("mydestination")
        if host is None or dest is None:
            return
        from .restrictions import valid_hostname
        if not valid_hostname(host):
            self.add("myhostname", f"myhostname = {host} is not a valid host name: use a name like mail.example.com")
        elif "." not in host:
            self.add("myhostname", f"myhostname = {host} is not fully qualified: use a name like "
                                   f"{host}.example.com", "warning")
        names = [d.lower().rstrip(".") for d in split_list(dest)]
        if host.lower() not in names and not any(":" in d for d in names):
            self.add("mydestination", f"mydestination does not include $myhostname ({host}): mail for "
                                      f"user@{host} will be relayed, not delivered here; "
                                      f"add $myhostname to mydestination", "warning")

    def sizes(self) -> None:
        try:
            message = self.cf.get_int("message_size_limit")
            mailbox = self.cf.get_int("mailbox_size_limit")
        except ConfigError:
            return
        if mailbox and message and mailbox < message:
            self.add("mailbox_size_limit" if self.line("mailbox_size_limit") else "message_size_limit",
                     f"mailbox_size_limit ({mailbox}) is smaller than message_size_limit ({message}): "
                     f"raise mailbox_size_limit or set it to 0 (no limit)")

    def restrictions(self) -> None:
        from .restrictions import Restrictions
        try:
            r = Restrictions.from_config(self.cf)
        except ConfigError as exc:
            self.problems.append(Problem(exc.path, exc.line, exc.message))
            return
        for w in r.warnings:
            self.add(None, w, "warning")

    def tables_and_paths(self) -> None:
        for name in ("alias_maps", "alias_database", "transport_maps", "virtual_alias_maps",
                     "canonical_maps", "sender_canonical_maps", "recipient_canonical_maps", "relocated_maps"):
            for item in split_list(self.value(name) or ""):
                kind, sep, rest = item.partition(":")
                if not sep:
                    self.add(name, f'"{item}" in {name} is not a table: write type:name, e.g. hash:/etc/aliases')
                elif kind.lower() not in TABLE_TYPES:
                    self.add(name, f'unsupported dictionary type "{kind}" in {name}: use hash:, texthash: or inline:')
                elif kind.lower() in FILE_TYPES and rest.startswith("/") and self.line(name) is not None \
                        and not self.real(rest).exists():
                    self.add(name, f"{name}: {rest} does not exist: create it"
                                   + (" and run newaliases" if "alias" in name else ""))
        for name in ("mail_spool_directory",):
            value = self.value(name)
            if value and self.line(name) is not None and not self.real(value).is_dir():
                self.add(name, f"{name} = {value}: no such directory: create it or correct the path")
        home = self.value("home_mailbox") or ""
        if home.startswith("/"):
            self.add("home_mailbox", f"home_mailbox = {home} must be relative to the home directory "
                                     f"(e.g. Maildir/ or Mailbox)")

    def tls(self) -> None:
        for prefix in ("smtpd", "smtp"):
            cert_name, key_name = f"{prefix}_tls_cert_file", f"{prefix}_tls_key_file"
            cert, key = self.value(cert_name), self.value(key_name)
            if not cert:
                continue
            cert_path, key_path = self.real(cert), self.real(key or cert)
            missing = False
            for name, shown, real in ((cert_name, cert, cert_path), (key_name, key or cert, key_path)):
                if not real.is_file():
                    self.add(name, f"{name} = {shown}: no such file: create it or correct the path")
                    missing = True
            if not missing:
                problem = _tls_pair_problem(cert_path.read_bytes(), key_path.read_bytes())
                if problem:
                    self.add(key_name if self.line(key_name) else cert_name,
                             f"{problem} ({cert_name} = {cert}, {key_name} = {key or cert})")
        for name in ("smtp_tls_CAfile", "smtpd_tls_CAfile"):
            value = self.value(name)
            if value and self.line(name) is not None and not self.real(value).is_file():
                self.add(name, f"{name} = {value}: no such file: create it or correct the path")
        value = self.value("smtp_tls_CApath")
        if value and self.line("smtp_tls_CApath") is not None and not self.real(value).is_dir():
            self.add("smtp_tls_CApath", f"smtp_tls_CApath = {value}: no such directory: create it or correct the path")


def _tls_pair_problem(cert_pem: bytes, key_pem: bytes) -> Optional[str]:
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
    except ImportError:         # pragma: no cover - cryptography is a dependency
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        return "the certificate file holds no PEM certificate: use the file openssl wrote (BEGIN CERTIFICATE)"
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return "the key file holds no unencrypted PEM private key: use the key made with the certificate"
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if cert.public_key().public_bytes(enc, pub) != key.public_key().public_bytes(enc, pub):
        return "the private key does not match the certificate: use the key the certificate was made with"
    return None


def check_config(cf: MainCf, path_map: Optional[Callable[[str], Path]] = None,
                 syntax: Tuple[ConfigError, ...] = ()) -> CheckResult:
    """Check a parsed main.cf (plus syntax errors found while parsing it)."""
    c = _Checker(cf, path_map or cf.map_path)
    c.problems.extend(Problem(e.path, e.line, e.message) for e in syntax)
    for step in (c.macros_and_types, c.unused, c.networks, c.protocols_and_interfaces, c.destinations,
                 c.sizes, c.restrictions, c.tables_and_paths, c.tls):
        step()
    # file order, errors and warnings together, as a student reads the file
    return CheckResult(tuple(sorted(c.problems, key=lambda p: (p.line is None, p.line or 0))))


def check_text(text: str, path: str = "main.cf", *, overrides: Optional[Mapping[str, str]] = None,
               path_map: Optional[Callable[[str], Path]] = None) -> CheckResult:
    """Check main.cf text; syntax errors do not stop the other checks."""
    entries, warnings, errors = parse_main_cf(text, path)
    cf = MainCf(path, entries, overrides=overrides, path_map=path_map, warnings=warnings)
    return check_config(cf, path_map, tuple(errors))


def check_file(path: str | Path, *, display_path: Optional[str] = None,
               overrides: Optional[Mapping[str, str]] = None,
               path_map: Optional[Callable[[str], Path]] = None) -> CheckResult:
    """Check the main.cf at *path* (errors name *display_path*, e.g. /etc/postfix/main.cf)."""
    shown = display_path or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return CheckResult((Problem(shown, None, f"open {shown}: No such file or directory: "
                                                 f"create main.cf (see labmail profiles)"),))
    return check_text(text, shown, overrides=overrides, path_map=path_map)


def check_host(host) -> CheckResult:
    """``postfix check`` on a lab host's /etc/postfix/main.cf (paths inside its state directory).

    >>> print("\\n".join(check_host(host).lines()) or "no problems")   # doctest: +SKIP
    no problems
    """
    return check_file(host.path("/etc/postfix/main.cf"), display_path="/etc/postfix/main.cf",
                      overrides=host.config.overrides(), path_map=host.path)


class ConfigCheckError(ConfigError):
    """main.cf has errors: every one of them, as ``postfix check`` lists them.

    A :class:`ConfigError` (so ``except ConfigError`` catches it); ``str()``
    gives one ``file, line N: ...`` line per problem.
    """

    def __init__(self, result: CheckResult) -> None:
        first = result.errors[0]
        super().__init__(first.path, first.line, first.message)
        self.result = result

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.result.errors)


def load_checked(path: str | Path, *, display_path: str = "/etc/postfix/main.cf",
                 overrides: Optional[Mapping[str, str]] = None,
                 path_map: Optional[Callable[[str], Path]] = None):
    """Read main.cf for a (re)load: ``(MainCf, Restrictions, CheckResult)``, or
    :class:`ConfigCheckError` listing every error so the caller can keep its old settings.

    >>> cf, restrictions, result = load_checked(path, overrides={"myhostname": "mail.example.com"})  # doctest: +SKIP
    """
    from .restrictions import Restrictions
    result = check_file(path, display_path=display_path, overrides=overrides, path_map=path_map)
    if not result.ok:
        raise ConfigCheckError(result)
    cf = MainCf.from_file(path, overrides=overrides, path_map=path_map, display_path=display_path)
    return cf, Restrictions.from_config(cf), result

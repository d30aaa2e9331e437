"""``dovecot.conf`` read as Dovecot reads its main settings.

The language: ``name = value`` lines, ``#`` comments, sections such as
``passdb { ... }`` or ``service pop3-login { inet_listener pop3 { port = 110 } }``,
``!include``/``!include_try`` of other files, ``<file`` values (the value is
that file's content, e.g. ``ssl_cert = </etc/ssl/certs/mail.pem``) and
``$name`` references to earlier settings.  Like ``doveconf``, an unknown
setting is an error naming the file and line
(``Unknown setting: foo``), never silently ignored.

>>> cfg = parse_dovecot_conf('''
... protocols = pop3 imap
... ssl = required
... disable_plaintext_auth = yes
... mail_location = maildir:~/Maildir
... passdb {
...   driver = passwd-file
...   args = /etc/dovecot/users
... }
... ''', "dovecot.conf")
>>> cfg.protocols, cfg.ssl, cfg.passdbs[0].args
(('pop3', 'imap'), 'required', '/etc/dovecot/users')
>>> cfg.is_secured("127.0.0.1", "127.0.0.2"), cfg.is_secured("127.0.0.2", "127.0.0.2")
(False, True)
"""
from __future__ import annotations

import glob
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Dict, List, Mapping, Optional, Tuple

from ..errors import ConfigError

__all__ = ["DovecotConfig", "PasswdDb", "Listener", "parse_dovecot_conf",
           "load_dovecot_conf", "default_dovecot_conf", "mail_location_for"]

# Dovecot 2.3 setting names the lab accepts.  Those the typed config above
# does not use are accepted and have no effect in the lab (so real configs
# load), but a name outside these lists is "Unknown setting" as in doveconf.
KNOWN_SETTINGS = frozenset("""
auth_allow_cleartext auth_anonymous_username auth_cache_negative_ttl auth_cache_size
auth_cache_ttl auth_debug auth_debug_passwords auth_default_realm auth_failure_delay
auth_master_user_separator auth_mechanisms auth_realms auth_username_chars
auth_username_format auth_username_translation auth_verbose auth_verbose_passwords
auth_worker_max_count base_dir debug_log_path default_client_limit default_internal_group
default_internal_user default_login_user default_process_limit default_vsz_limit
deliver_log_format disable_plaintext_auth first_valid_gid first_valid_uid hostname
imap_capability imap_client_workarounds imap_id_log imap_id_send imap_idle_notify_interval
imap_logout_format imap_max_line_length info_log_path instance_name last_valid_gid
last_valid_uid listen log_path log_timestamp login_access_sockets login_greeting
login_log_format login_log_format_elements login_trusted_networks mail_access_groups
mail_debug mail_fsync mail_gid mail_home mail_location mail_max_keyword_length
mail_max_userip_connections mail_plugins mail_privileged_group mail_uid
maildir_copy_with_hardlinks maildir_very_dirty_syncs mbox_lock_timeout mbox_read_locks
mbox_write_locks mmap_disable postmaster_address protocols pop3_client_workarounds
pop3_delete_type pop3_deleted_flag pop3_enable_last pop3_fast_size_lookups
pop3_lock_session pop3_logout_format pop3_no_flag_updates pop3_reuse_xuidl
pop3_save_uidl pop3_uidl_duplicates pop3_uidl_format quota_full_tempfail
recipient_delimiter shutdown_clients ssl ssl_ca ssl_cert ssl_cipher_list
ssl_client_ca_dir ssl_client_ca_file ssl_dh ssl_key ssl_key_password
ssl_min_protocol ssl_prefer_server_ciphers ssl_require_crl ssl_verify_client_cert
state_dir submission_host syslog_facility verbose_proctitle verbose_ssl
""".split())
_SERVICE = frozenset("""
chroot client_limit drop_priv_before_exec executable extra_groups group idle_kill
privileged_group process_limit process_min_avail protocol service_count type user
vsz_limit""".split())
KNOWN_SECTION_SETTINGS = {
    "passdb": frozenset("""args auth_verbose default_fields deny driver master mechanisms
        override_fields pass result_failure result_internalfail result_success skip
        username_filter""".split()),
    "userdb": frozenset("""args auth_verbose default_fields driver override_fields
        result_failure result_internalfail result_success skip""".split()),
    "service": _SERVICE,
    "inet_listener": frozenset("address haproxy port reuse_port ssl".split()),
    "unix_listener": frozenset("group mode user".split()),
    "fifo_listener": frozenset("group mode user".split()),
    "namespace": frozenset("""disabled hidden ignore_on_failure inbox list location
        order prefix separator subscriptions type""".split()),
    "mailbox": frozenset("auto autoexpunge autoexpunge_max_mails comment driver special_use".split()),
    "plugin": frozenset(),   # plugin settings are free-form
    "protocol": KNOWN_SETTINGS,
    "local": KNOWN_SETTINGS,
    "remote": KNOWN_SETTINGS,
}

_PROTOCOLS = {"pop3", "imap", "lmtp", "submission", "sieve", "none"}
_SECTION_KINDS = set(KNOWN_SECTION_SETTINGS)


@dataclass(frozen=True)
class PasswdDb:
    """A ``passdb { }`` or ``userdb { }`` block."""

    kind: str           # "passdb" or "userdb"
    driver: str
    args: str
    path: str
    line: int


@dataclass(frozen=True)
class Listener:
    """An ``inet_listener`` of a login service (e.g. pop3s on 995 with ssl)."""

    service: str
    name: str
    port: int
    ssl: bool
    address: str = ""


@dataclass(frozen=True)
class _Node:
    kind: str
    name: str
    path: str
    line: int
    settings: Tuple[Tuple[str, str, int, str], ...] = ()   # name, value, line, file
    children: Tuple["_Node", ...] = ()


@dataclass(frozen=True)
class DovecotConfig:
    """The settings the lab's access layer acts on, typed; ``settings`` holds all."""

    path: str
    protocols: Tuple[str, ...] = ()
    listen: Tuple[str, ...] = ("*", "::")
    ssl: str = "yes"
    ssl_cert: Optional[str] = None
    ssl_key: Optional[str] = None
    disable_plaintext_auth: bool = True
    auth_mechanisms: Tuple[str, ...] = ("plain",)
    auth_failure_delay: float = 2.0
    mail_location: str = ""
    login_greeting: str = "Dovecot ready."
    login_trusted_networks: Tuple[str, ...] = ()
    pop3_uidl_format: str = "%08Xu%08Xv"
    pop3_lock_session: bool = False
    pop3_logout_format: str = "top=%t/%p, retr=%r/%b, del=%d/%m, size=%s"
    passdbs: Tuple[PasswdDb, ...] = ()
    userdbs: Tuple[PasswdDb, ...] = ()
    listeners: Tuple[Listener, ...] = ()
    settings: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    lines: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def is_secured(self, client_ip: str, server_ip: str) -> bool:
        """Dovecot's "secured" connection: from itself or a trusted network.

        (Dovecot: ``client->secured = ssl || ip == local_ip || trusted``.)
        """
        if client_ip == server_ip:
            return True
        try:
            addr = ipaddress.ip_address(client_ip)
        except ValueError:
            return False
        for net in self.login_trusted_networks:
            try:
                if addr in ipaddress.ip_network(net, strict=False):
                    return True
            except ValueError:
                continue
        return False

    def plaintext_allowed(self, secured: bool) -> bool:
        """May USER/PASS and AUTH PLAIN be used on this connection?"""
        return secured or not self.disable_plaintext_auth

    def passwd_file(self) -> Optional[str]:
        """The passwd-file of the first passwd-file passdb (args' last word)."""
        for db in self.passdbs:
            if db.driver == "passwd-file":
                words = [w for w in db.args.split() if "=" not in w]
                return words[-1] if words else None
        return None


# -- the language -----------------------------------------------------------
def _strip_comment(line: str) -> str:
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _read_lines(text: str, path: str, base_dir: str, depth: int = 0
                ) -> List[Tuple[str, str, int]]:
    """(text, file, line) with continuations joined and includes expanded."""
    if depth > 20:
        raise ConfigError(path, None, "!include nested too deeply")
    out: List[Tuple[str, str, int]] = []
    pending, start = "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = no
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        line = _strip_comment(line).strip()
        if not line:
            continue
        if line.startswith("!include"):
            word, _, arg = line.partition(" ")
            if word not in ("!include", "!include_try"):
                raise ConfigError(path, start, f"Unknown command: {word}")
            pattern = _unquote(arg)
            if not os.path.isabs(pattern):
                pattern = os.path.join(base_dir, pattern)
            matches = sorted(glob.glob(pattern))
            if not matches and word == "!include":
                raise ConfigError(path, start, "No matches")
            for inc in matches:
                inc_text = _read_include(inc, path, start)
                out.extend(_read_lines(inc_text, inc, os.path.dirname(inc), depth + 1))
            continue
        out.append((line, path, start))
    return out


#: the largest configuration file an !include may pull in
MAX_INCLUDE = 4 * 1024 * 1024


def _read_include(inc: str, path: str, line: int) -> str:
    """The text of an included file; anything but a readable UTF-8 regular file
    of reasonable size is a configuration error, never a crash or a hang."""
    if not os.path.isfile(inc):
        raise ConfigError(path, line, f"!include {inc}: not a regular file")
    try:
        with open(inc, "rb") as fh:
            data = fh.read(MAX_INCLUDE + 1)
    except OSError as exc:
        raise ConfigError(path, line, f"!include {inc}: {exc.strerror}") from None
    if len(data) > MAX_INCLUDE:
        raise ConfigError(path, line, f"!include {inc}: larger than {MAX_INCLUDE} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, line, f"!include {inc}: not UTF-8 text") from None


def _parse_tree(lines: List[Tuple[str, str, int]], path: str) -> _Node:
    stack: List[Tuple[str, str, str, int, list, list]] = [("", "", path, 0, [], [])]
    for text, fpath, no in lines:
        if text == "}":
            if len(stack) == 1:
                raise ConfigError(fpath, no, "Unexpected '}'")
            kind, name, p, ln, settings, children = stack.pop()
            stack[-1][5].append(_Node(kind, name, p, ln, tuple(settings), tuple(children)))
            continue
        if text.endswith("{"):
            head = text[:-1].split()
            if not head or len(head) > 2:
                raise ConfigError(fpath, no, "Expecting '='")
            kind, name = head[0], _unquote(head[1]) if len(head) == 2 else ""
            stack.append((kind, name, fpath, no, [], []))
            continue
        key, eq, value = text.partition("=")
        key = key.strip()
        if not eq:
            raise ConfigError(fpath, no, "Expecting '{'" if " " not in key else "Expecting '='")
        if not key or " " in key:
            raise ConfigError(fpath, no, f"Invalid setting name: {key}")
        stack[-1][4].append((key, value.strip(), no, fpath))
    if len(stack) > 1:
        kind, name, p, ln, _, _ = stack[-1]
        raise ConfigError(p, ln, f"Missing '}}' (section {kind} {name} started here)".replace("  ", " "))
    _, _, p, _, settings, children = stack[0]
    return _Node("", "", p, 0, tuple(settings), tuple(children))


def _bool(value: str, path: str, line: int) -> bool:
    v = value.strip().lower()
    if v in ("yes", "y", "1", "true"):
        return True
    if v in ("no", "n", "0", "false"):
        return False
    raise ConfigError(path, line, f"Invalid boolean value: {value} (use yes or no)")


def _seconds(value: str, path: str, line: int) -> float:
    words = value.split()
    units = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
             "ms": 0.001, "msec": 0.001, "msecs": 0.001, "min": 60, "mins": 60,
             "minute": 60, "minutes": 60}
    try:
        num = float(words[0])
        unit = words[1] if len(words) > 1 else ""
        return num * units[unit]
    except (IndexError, ValueError, KeyError):
        raise ConfigError(path, line, f"Invalid time interval: {value}") from None


def _check_names(node: _Node, depth: int = 0) -> None:
    allowed = KNOWN_SETTINGS if node.kind in ("", "protocol", "local", "remote") \
        else KNOWN_SECTION_SETTINGS.get(node.kind, frozenset())
    for key, _, line, fpath in node.settings:
        if key not in allowed and node.kind != "plugin":
            where = f"{node.kind} {{ " if node.kind else ""
            raise ConfigError(fpath, line, f"Unknown setting: {where}{key}")
    for child in node.children:
        if child.kind not in _SECTION_KINDS:
            raise ConfigError(child.path, child.line, f"Unknown setting: {child.kind} {{ {child.kind}")
        _check_names(child, depth + 1)


def parse_dovecot_conf(text: str, path: str = "dovecot.conf",
                       protocol: str = "pop3") -> DovecotConfig:
    """Parse *text*; settings inside ``protocol <protocol> { }`` win for that protocol."""
    base_dir = os.path.dirname(os.path.abspath(path))
    root = _parse_tree(_read_lines(text, path, base_dir), path)
    _check_names(root)
    values: Dict[str, str] = {}
    where: Dict[str, int] = {}
    files: Dict[str, str] = {}

    def take(settings: Tuple[Tuple[str, str, int, str], ...]) -> None:
        for key, value, line, fpath in settings:
            if value.startswith("$") and value[1:] in values:
                value = values[value[1:]]
            values[key] = _unquote(value)
            where[key], files[key] = line, fpath
    take(root.settings)
    for child in root.children:
        if child.kind == "protocol" and child.name == protocol:
            take(child.settings)

    def line_of(key: str) -> int:
        return where.get(key, 0) or 0

    def file_of(key: str) -> str:
        return files.get(key, path)

    kw: Dict[str, object] = {}
    if "protocols" in values:
        protos = tuple(values["protocols"].replace(",", " ").split())
        for p in protos:
            if p.lstrip("!") not in _PROTOCOLS:
                raise ConfigError(file_of("protocols"), line_of("protocols"), f"protocols: Unknown protocol: {p}")
        kw["protocols"] = protos
    if "listen" in values:
        kw["listen"] = tuple(x.strip() for x in values["listen"].split(",") if x.strip())
    if "ssl" in values:
        if values["ssl"] not in ("no", "yes", "required"):
            raise ConfigError(file_of("ssl"), line_of("ssl"), f"Invalid value: {values['ssl']}")
        kw["ssl"] = values["ssl"]
    for key in ("ssl_cert", "ssl_key"):
        if values.get(key):
            kw[key] = values[key][1:].strip() if values[key].startswith("<") else values[key]
    if "disable_plaintext_auth" in values:
        kw["disable_plaintext_auth"] = _bool(values["disable_plaintext_auth"], file_of("disable_plaintext_auth"),
                                             line_of("disable_plaintext_auth"))
    if "auth_allow_cleartext" in values:      # Dovecot 2.4's name, inverted
        kw["disable_plaintext_auth"] = not _bool(values["auth_allow_cleartext"], file_of("auth_allow_cleartext"),
                                                 line_of("auth_allow_cleartext"))
    if "auth_mechanisms" in values:
        kw["auth_mechanisms"] = tuple(m.lower() for m in values["auth_mechanisms"].split())
    if "auth_failure_delay" in values:
        kw["auth_failure_delay"] = _seconds(values["auth_failure_delay"], file_of("auth_failure_delay"),
                                            line_of("auth_failure_delay"))
    for key in ("mail_location", "login_greeting", "pop3_uidl_format", "pop3_logout_format"):
        if key in values:
            kw[key] = values[key]
    if "pop3_lock_session" in values:
        kw["pop3_lock_session"] = _bool(values["pop3_lock_session"], file_of("pop3_lock_session"),
                                        line_of("pop3_lock_session"))
    if "login_trusted_networks" in values:
        nets = tuple(values["login_trusted_networks"].replace(",", " ").split())
        for net in nets:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ConfigError(file_of("login_trusted_networks"), line_of("login_trusted_networks"),
                                  f"login_trusted_networks: Invalid network '{net}'") from None
        kw["login_trusted_networks"] = nets
    dbs: Dict[str, List[PasswdDb]] = {"passdb": [], "userdb": []}
    listeners: List[Listener] = []
    for child in root.children:
        if child.kind in dbs:
            conf = {k: _unquote(v) for k, v, _, _ in child.settings}
            dbs[child.kind].append(PasswdDb(child.kind, conf.get("driver", ""),
                                            conf.get("args", ""), child.path, child.line))
        elif child.kind == "service":
            for lst in child.children:
                if lst.kind != "inet_listener":
                    continue
                lconf = {k: (_unquote(v), ln, fp) for k, v, ln, fp in lst.settings}
                port_s, port_line, port_file = lconf.get("port", ("0", lst.line, lst.path))
                if not port_s.isdigit() or int(port_s) > 65535:
                    raise ConfigError(port_file, port_line, f"Invalid port number: {port_s}")
                ssl_on = (_bool(lconf["ssl"][0], lconf["ssl"][2], lconf["ssl"][1])
                          if "ssl" in lconf else False)
                listeners.append(Listener(child.name, lst.name, int(port_s), ssl_on,
                                          conf.get("address", ("", 0))[0]))
    return DovecotConfig(path=path, passdbs=tuple(dbs["passdb"]), userdbs=tuple(dbs["userdb"]),
                         listeners=tuple(listeners), settings=MappingProxyType(dict(values)),
                         lines=MappingProxyType(dict(where)), **kw)  # type: ignore[arg-type]


def load_dovecot_conf(path: os.PathLike | str, protocol: str = "pop3") -> DovecotConfig:
    """Read and parse a ``dovecot.conf`` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), None, "No such file or directory") from None
    return parse_dovecot_conf(text, str(p), protocol)


def mail_location_for(home_mailbox: str = "Maildir/",
                      mail_spool_directory: str = "/var/mail") -> str:
    """The ``mail_location`` that reads what Postfix's ``local`` writes.

    >>> mail_location_for("Maildir/"), mail_location_for("")
    ('maildir:~/Maildir', 'mbox:~/mail:INBOX=/var/mail/%u')
    >>> mail_location_for("Mailbox")
    'mbox:~/mail:INBOX=~/Mailbox'
    """
    if home_mailbox.endswith("/"):
        return f"maildir:~/{home_mailbox.rstrip('/')}"
    if home_mailbox:
        return f"mbox:~/mail:INBOX=~/{home_mailbox}"
    return f"mbox:~/mail:INBOX={mail_spool_directory.rstrip('/')}/%u"


def default_dovecot_conf(*, mail_location: str = "maildir:~/Maildir",
                         greeting: str = "labmail ready.",
                         disable_plaintext_auth: bool = False, ssl: str = "yes",
                         ssl_cert: str = "/etc/ssl/certs/ssl-cert-snakeoil.pem",
                         ssl_key: str = "/etc/ssl/private/ssl-cert-snakeoil.key",
                         protocols: str = "pop3 imap") -> str:
    """The text of a lab host's ``/etc/dovecot/dovecot.conf``.

    *mail_location* should agree with Postfix's ``home_mailbox`` (Maildir/)
    or ``mail_spool_directory`` (``mbox:~/mail:INBOX=/var/mail/%u``).

    >>> "mail_location = maildir:~/Maildir" in default_dovecot_conf()
    True
    """
    yn = "yes" if disable_plaintext_auth else "no"
    return f"""# /etc/dovecot/dovecot.conf of a lab host (Dovecot 2.3 syntax)
protocols = {protocols}
listen = *
login_greeting = {greeting}

# TLS: "yes" offers STLS and the implicit-TLS ports, "required" refuses
# logins without TLS.
ssl = {ssl}
ssl_cert = <{ssl_cert}
ssl_key = <{ssl_key}

# Dovecot's default is "yes": USER/PASS and AUTH PLAIN only over TLS (or
# from the server itself).  The lab starts with "no" until the TLS lesson.
disable_plaintext_auth = {yn}
auth_mechanisms = plain login
auth_failure_delay = 2 secs

# Where mail lives: agrees with Postfix's home_mailbox = Maildir/
mail_location = {mail_location}

# An exclusive maildrop lock per POP3 session (RFC 1939 section 8)
pop3_lock_session = yes

passdb {{
  driver = passwd-file
  args = scheme=SHA512-CRYPT username_format=%u /etc/dovecot/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u /etc/dovecot/users
}}
"""

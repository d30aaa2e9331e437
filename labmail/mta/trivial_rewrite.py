"""trivial-rewrite(8): how Postfix rewrites and resolves an envelope address.

Before smtpd decides whether a recipient is ours, someone else's (relaying)
or nonsense, Postfix asks trivial-rewrite where the address really goes.
Sender-specified routing hidden in the local part is undone first, so that
``user%other.example@mail.example.com`` is mail for ``user@other.example``
and the relay check sees that, not ``mail.example.com``:

* ``resolve_dequoted_address = yes``: ``"user@other"@local`` is read as
  ``user@other@local`` (the quotes do not hide the ``@``);
* our own domains are stripped from the right, one after the other
  (``user@other@local`` -> ``user@other``);
* ``allow_percent_hack = yes``: then the rightmost ``%`` becomes ``@``;
* ``swap_bangpath = yes``: ``site!user`` becomes ``user@site``;
* ``resolve_null_domain``: whether ``user@`` is an empty (bad) domain or ours.

The result says where the mail goes (``local`` or not), whether routing
operators are left in the local part (``routed``: such an address never
counts as an authorized destination, even for one of our own domains) and whether the final
domain is no valid host name (``error``: smtpd's ``Bad address syntax``).

Pure functions over a tokenised address, written from Postfix's documented
behaviour and differential tests against Postfix 3.7.

>>> p = RewriteParams(myhostname="mail.example.com", myorigin="mail.example.com")
>>> ours = lambda d: d.lower() == "mail.example.com"
>>> resolve("victim%example.org@mail.example.com", p, ours).address
'victim@example.org'
>>> r = resolve('"victim@example.org"@mail.example.com', p, ours)
>>> r.address, r.local, r.routed
('victim@example.org', False, False)
>>> resolve("example.org!victim", p, ours).address
'victim@example.org'
>>> resolve("alice", p, ours).address, resolve("alice", p, ours).local
('alice@mail.example.com', True)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple

from .restrictions import valid_hostname, _valid_literal

__all__ = ["RewriteParams", "Resolved", "internalize", "quote_local", "canonicalize",
           "resolve", "is_one_address"]

# Postfix's tokenizer treats these as operators; it includes % and ! "because
# not all MTAs are RFC 822 compliant".  Quotes and brackets are handled apart.
_OPERATORS = set("|(),.:;<>@%!")
# RFC 5322 §3.2.3 specials: a local part with one of these must be quoted.
_SPECIALS = set('()<>@,;:\\".[]')

Token = Tuple[str, str]        # (kind, text): kind is an operator char, "atom", "qstring", "domlit"


@dataclass(frozen=True)
class RewriteParams:
    """The main.cf parameters trivial-rewrite reads (Postfix 3.7 defaults).

    >>> RewriteParams().allow_percent_hack, RewriteParams().resolve_null_domain
    (True, False)
    """
    allow_percent_hack: bool = True
    swap_bangpath: bool = True
    resolve_dequoted_address: bool = True
    resolve_null_domain: bool = False
    resolve_numeric_domain: bool = False
    allow_min_user: bool = False
    append_at_myorigin: bool = True
    append_dot_mydomain: bool = False
    smtputf8_enable: bool = True
    myorigin: str = ""
    myhostname: str = ""
    mydomain: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> "RewriteParams":
        """Read the parameters from a parsed main.cf (:class:`~labmail.mta.maincf.MainCf`)."""
        def flag(name: str, default: bool) -> bool:
            try:
                return cfg.get_bool(name)
            except Exception:       # a bad value is postfix check's business
                return default
        origin = cfg.myorigin() if hasattr(cfg, "myorigin") else cfg.get("myorigin")
        return cls(
            allow_percent_hack=flag("allow_percent_hack", True),
            swap_bangpath=flag("swap_bangpath", True),
            resolve_dequoted_address=flag("resolve_dequoted_address", True),
            resolve_null_domain=flag("resolve_null_domain", False),
            resolve_numeric_domain=flag("resolve_numeric_domain", False),
            allow_min_user=flag("allow_min_user", False),
            append_at_myorigin=flag("append_at_myorigin", True),
            append_dot_mydomain=flag("append_dot_mydomain", False),
            smtputf8_enable=flag("smtputf8_enable", True),
            myorigin=origin or "", myhostname=cfg.get("myhostname") or "",
            mydomain=cfg.get("mydomain") or "")


@dataclass(frozen=True)
class Resolved:
    """Where an address goes.

    ``address`` is the resolved recipient in external form (a local part that
    needs quotes has them), ``domain`` its domain, ``local`` True when the
    domain is ours, ``routed`` True when the local part still has ``@``,
    ``%`` or ``!`` (an operator this server did not apply, or one the next
    MTA might), ``error`` True when the domain is no
    valid host name or address literal.
    """
    address: str
    domain: str
    local: bool
    routed: bool = False
    error: bool = False


# -- tokens ------------------------------------------------------------------
def _scan(text: str) -> List[Token]:
    """Tokenise an address as Postfix's tok822_scan does (comments dropped).

    White space stays inside atoms: in the internal form it can only come
    from a quoted local part (smtpd refuses it unquoted).
    """
    tokens: List[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j, buf = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(text[j])
                j += 1
            tokens.append(("qstring", "".join(buf)))
            i = j + 1
        elif ch == "[":
            j = text.find("]", i)
            if j < 0:
                # never closed: Postfix closes a domain literal at the end of
                # the address (a@[192.0.2.1); anywhere else there is no address
                after_at = bool(tokens) and tokens[-1][0] == "@"
                tokens.append(("domlit", text[i:] + "]") if after_at else ("unclosed", text[i:]))
                break
            tokens.append(("domlit", text[i:j + 1]))
            i = j + 1
        elif ch == "(":
            depth, j = 0, i
            while j < n:
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                j += 1
                if depth == 0:
                    break
            i = j
        elif ch in _OPERATORS:
            tokens.append((ch, ch))
            i += 1
        else:
            j = i
            while j < n and text[j] not in _OPERATORS and text[j] not in '"[':
                j += 1
            tokens.append(("atom", text[i:j]))
            i = j
    return tokens


def is_one_address(address: str) -> bool:
    """False when *address* reads as several words (``"a"b@x``, ``a[1]@x``)
    or has a ``[`` that never closes (other than a final domain literal):
    Postfix's parser then finds no single address (smtpd: 501).

    >>> is_one_address('"a b"@example.org'), is_one_address('"a"b@example.org')
    (True, False)
    >>> is_one_address("[%x.y"), is_one_address("a@[127.0.0.1")
    (False, True)
    """
    tokens = _scan(address)
    if any(kind == "unclosed" for kind, _t in tokens):
        return False
    words = ("atom", "qstring", "domlit")
    return not any(a[0] in words and b[0] in words for a, b in zip(tokens, tokens[1:]))


def _text(tokens: List[Token]) -> str:
    """The internal (unquoted) form of *tokens*."""
    return "".join(text for _kind, text in tokens)


def _rfind(tokens: List[Token], kind: str) -> int:
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i][0] == kind:
            return i
    return -1


def _find(tokens: List[Token], kind: str) -> int:
    for i, tok in enumerate(tokens):
        if tok[0] == kind:
            return i
    return -1


# -- forms -------------------------------------------------------------------
def internalize(address: str) -> str:
    """The internal form Postfix keeps: quotes of the local part removed.

    >>> internalize('"victim@example.org"@mail.example.com'), internalize('"a b"@x')
    ('victim@example.org@mail.example.com', 'a b@x')
    """
    if '"' not in address:
        return address
    out, quoted, escaped = [], False, False
    for ch in address:
        if escaped:
            out.append(ch)
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        else:
            out.append(ch)
    return "".join(out)


def quote_local(address: str) -> str:
    """The external form: the local part (up to the last ``@``) quoted when it
    needs it, as Postfix's quote_822_local does.

    >>> quote_local("victim@example.org@mail.example.com"), quote_local("a.b@x")
    ('"victim@example.org"@mail.example.com', 'a.b@x')
    """
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    if _needs_quotes(local):
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{local}{at}{domain}"


def _needs_quotes(local: str) -> bool:
    if local == "":
        return False
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return True
    return any(c in _SPECIALS and c != "." or c <= " " or c == "\x7f" for c in local)


# -- rewriting ---------------------------------------------------------------
def _rewrite_tree(tokens: List[Token], p: RewriteParams) -> List[Token]:
    """Canonical form (Postfix's rewrite_tree for the "local" rule set)."""
    if not tokens:
        return tokens
    if len(tokens) == 1 and tokens[0][0] == "@":          # a lone @ is the empty address
        return [("qstring", "")]
    # RFC 5321 §C: a source route (@a,@b:user@c) is dropped
    colon = _find(tokens, ":")
    if tokens[0][0] == "@" and 0 <= colon < len(tokens) - 1:
        tokens = tokens[colon + 1:]
    if _rfind(tokens, "@") < 0:
        bang = _find(tokens, "!")
        pct = _rfind(tokens, "%")
        if p.swap_bangpath and bang >= 0:
            tokens = tokens[bang + 1:] + [("@", "@")] + tokens[:bang]
        elif p.allow_percent_hack and pct >= 0:
            tokens = tokens[:pct] + [("@", "@")] + tokens[pct + 1:]
        elif p.append_at_myorigin and p.myorigin:
            tokens = tokens + [("@", "@")] + _scan(p.myorigin)
    at = _rfind(tokens, "@")
    if (p.append_dot_mydomain and p.mydomain and 0 <= at < len(tokens) - 1
            and _find(tokens[at:], "domlit") < 0 and _find(tokens[at:], ".") < 0):
        tokens = tokens + [(".", ".")] + _scan(p.mydomain)
    if len(tokens) > 1 and tokens[-1][0] == "." and tokens[-2][0] not in (".", "@"):
        tokens = tokens[:-1]
    return tokens


def canonicalize(address: str, params: RewriteParams) -> str:
    """The address in canonical form (external), as cleanup(8) queues it.

    >>> p = RewriteParams(myorigin="mail.example.com")
    >>> canonicalize("alice", p), canonicalize("example.org!bob", p), canonicalize("b@x.org.", p)
    ('alice@mail.example.com', 'bob@example.org', 'b@x.org')
    """
    tokens = _rewrite_tree(_scan(internalize(address)), params)
    return quote_local(_text(tokens))


def _valid_domain(domain: str, p: RewriteParams) -> bool:
    if domain.startswith("["):
        return domain.endswith("]") and _valid_literal(domain)
    if not domain.isascii():
        if not p.smtputf8_enable:
            return False
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return valid_hostname(domain) and not domain.endswith(".")


def resolve(address: str, params: RewriteParams,
            is_local: Callable[[str], bool]) -> Resolved:
    """Resolve *address* (as sent, external form) as trivial-rewrite does.

    *is_local(domain)* answers whether a domain (``mail.example.com`` or
    ``[192.0.2.1]``) is delivered here (``mydestination``, our addresses).

    >>> p = RewriteParams(myhostname="mail.example.com", myorigin="mail.example.com")
    >>> ours = lambda d: d.lower() in ("mail.example.com", "localhost")
    >>> resolve("victim@localhost@mail.example.com", p, ours).address
    'victim@localhost'
    >>> r = resolve("example.org!victim%other.net@mail.example.com", p, ours)
    >>> r.address, r.routed
    ('victim%other.net@example.org', True)
    >>> resolve("alice@", p, ours).error
    True
    """
    p = params
    internal = internalize(address)
    # resolve_dequoted_address = no: a local part that needs quotes stays one
    # opaque quoted string, so an @ (or % or !) inside it routes nothing
    tokens = _scan(internal if p.resolve_dequoted_address else quote_local(internal))
    saved: Optional[List[Token]] = None
    remote_at = -1
    for _ in range(64):                  # each round removes a domain or an operator
        if not tokens:
            break
        # a trailing dot of the domain goes, but not dot-dot or at-dot
        if (len(tokens) > 1 and tokens[-1][0] == "." and _rfind(tokens, "@") >= 0
                and tokens[-2][0] not in (".", "@")):
            tokens = tokens[:-1]
        if p.resolve_null_domain and tokens and tokens[-1][0] == "@":
            tokens = tokens[:-1]
        at = _rfind(tokens, "@")
        if at >= 0:
            domain = _text(tokens[at + 1:])
            if domain and not is_local(domain[:-1] if domain.endswith(".") else domain):
                remote_at = at
                break
            saved, tokens = tokens[at:], tokens[:at]
        if (_rfind(tokens, "@") >= 0 or (p.swap_bangpath and _rfind(tokens, "!") >= 0)
                or (p.allow_percent_hack and _rfind(tokens, "%") >= 0)):
            tokens = _rewrite_tree(tokens, p)
            continue
        break
    if remote_at < 0:
        if saved is not None:
            tokens = tokens + saved
        else:
            tokens = tokens + [("@", "@")] + _scan(p.myhostname)
    local = remote_at < 0
    at = _rfind(tokens, "@")
    local_part, domain = _text(tokens[:at]), _text(tokens[at + 1:])
    # Routing operators left in the local part, whether or not this server
    # honours them: the next MTA might (Postfix's RESOLVE_FLAG_ROUTED)
    routed = any(c in local_part for c in "@%!")
    error = not _valid_domain(domain, p)
    if error and p.resolve_numeric_domain and _is_ipv4(domain):
        domain, error = f"[{domain}]", False
    if local and not local_part and domain:
        local_part = "MAILER-DAEMON"            # what Postfix makes of ""@ourdomain
    # an address starting with '-' could pass as an option to a command that
    # delivers it: refused unless allow_min_user = yes
    if local_part.startswith("-") and not p.allow_min_user:
        error = True
    return Resolved(quote_local(f"{local_part}@{domain}"), domain, local, routed, error)


def _is_ipv4(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(x.isdigit() and int(x) < 256 for x in parts)

"""iptables' filter table as data: rules, the command line, ``-L``, ``-S`` and ``iptables-save``.

A :class:`Ruleset` holds the three built-in chains of the ``filter`` table
(INPUT, FORWARD, OUTPUT) with their policies and rules.  :func:`run` takes
an ``iptables ...`` command line, changes the ruleset and returns what the
real ``iptables`` 1.8.9 (nf_tables) prints, with its exit status.  The
listing formats (``-L``, ``-L -n``, ``--line-numbers``, ``-S``) and the
``iptables-save`` file format were compared with the real tool run in a
network namespace.

>>> rs = Ruleset()
>>> run(rs, "iptables -A INPUT -p tcp --dport 993 -j ACCEPT").rc
0
>>> print(rs.save(stamp=None).splitlines()[4])
-A INPUT -p tcp -m tcp --dport 993 -j ACCEPT
>>> rs.decide(993, "tcp", "192.0.2.1").action
'ACCEPT'
"""
from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["Rule", "Ruleset", "Verdict", "Output", "IptablesError", "run", "parse_rule",
           "SERVICES", "CHAINS"]

CHAINS = ("INPUT", "FORWARD", "OUTPUT")
TARGETS = ("ACCEPT", "DROP", "REJECT", "LOG")
#: syslog levels: what --log-level takes, and the names ``iptables -L`` prints
_LOG_LEVELS = {"emerg": 0, "panic": 0, "alert": 1, "crit": 2, "error": 3, "warning": 4,
               "notice": 5, "info": 6, "debug": 7}
_LEVEL_NAMES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
_PROTO_NUMBERS = {"all": 0, "icmp": 1, "tcp": 6, "udp": 17}
#: conntrack states in the order iptables prints them
_STATES = ("INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED")
_REJECT_WITH = ("icmp-port-unreachable", "icmp-net-unreachable", "icmp-host-unreachable",
                "icmp-proto-unreachable", "icmp-net-prohibited", "icmp-host-prohibited",
                "icmp-admin-prohibited", "tcp-reset")
#: port names ``iptables -L`` shows without -n (Debian's /etc/services)
SERVICES: Dict[int, str] = {22: "ssh", 25: "smtp", 53: "domain", 80: "http", 110: "pop3",
                            143: "imap2", 443: "https", 465: "submissions", 587: "submission",
                            783: "spamd", 993: "imaps", 995: "pop3s"}
_BY_NAME = {name: port for port, name in SERVICES.items()}
_BY_NAME.update({"imap": 143, "smtps": 465, "ssmtp": 465, "pop-3": 110, "mail": 25})
VERSION = "iptables v1.8.9 (nf_tables)"
_TRY = "Try `iptables -h' or 'iptables --help' for more information."


class IptablesError(Exception):
    """A command iptables refuses; ``str()`` is its message, ``rc`` its exit status."""

    def __init__(self, message: str, rc: int = 2) -> None:
        super().__init__(message)
        self.rc = rc


@dataclass(frozen=True)
class Output:
    """What a command printed and its exit status (0 = success)."""

    rc: int = 0
    stdout: str = ""
    stderr: str = ""

    def __str__(self) -> str:
        return (self.stdout + self.stderr).rstrip("\n")

    __repr__ = __str__


@dataclass(frozen=True)
class Rule:
    """One rule of a chain (``-A INPUT -s 10.0.0.0/8 -p tcp --dport 25 -j REJECT``)."""

    target: str
    proto: str = "all"
    source: Optional[ipaddress.IPv4Network] = None
    source_inv: bool = False
    dest: Optional[ipaddress.IPv4Network] = None
    dest_inv: bool = False
    in_iface: Optional[str] = None
    dports: Tuple[Tuple[int, int], ...] = ()     # (first, last) ranges
    multiport: bool = False
    states: Tuple[str, ...] = ()
    modules: Tuple[str, ...] = ()                 # -m names in the order given
    reject_with: str = ""
    log_prefix: str = ""                          # -j LOG: its --log-prefix and --log-level
    log_level: int = 4

    def matches(self, dport: int, proto: str, src: str, iface: str = "eth0",
                state: str = "NEW") -> bool:
        """True when a packet with these properties matches the rule."""
        if self.proto != "all" and self.proto != proto:
            return False
        addr = ipaddress.ip_address(src)
        if self.source is not None and (addr in self.source) == self.source_inv:
            return False
        if self.in_iface is not None and self.in_iface != iface:
            return False
        if self.dports and not any(a <= dport <= b for a, b in self.dports):
            return False
        if self.states and state not in self.states:
            return False
        return True

    # -- printing ---------------------------------------------------------------
    def _ports(self, numeric: bool) -> str:
        def one(p: int) -> str:
            return str(p) if numeric else SERVICES.get(p, str(p))
        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.dports)

    def match_text(self, numeric: bool = True) -> str:
        """The matches and target options as ``iptables -L`` prints them."""
        parts: List[str] = []
        for mod in self.modules:
            if mod in ("state", "conntrack"):
                word = "state" if mod == "state" else "ctstate"
                parts.append(f"{word} {','.join(self.states)}")
            elif mod == "multiport":
                parts.append(f"multiport dports {self._ports(numeric)}")
            elif mod in ("tcp", "udp"):
                (a, b), = self.dports
                parts.append(f"{mod} dpt:{self._ports(numeric)}" if a == b
                             else f"{mod} dpts:{self._ports(numeric)}")
        if self.target == "REJECT":
            parts.append(f"reject-with {self.reject_with}")
        elif self.target == "LOG":
            parts.append(f"LOG flags 0 level {self.log_level}" if numeric
                         else f"LOG level {_LEVEL_NAMES[self.log_level]}")
            if self.log_prefix:
                parts.append(f'prefix "{self.log_prefix}"')
        return " ".join(parts)

    def spec(self) -> str:
        """The rule as ``iptables-save`` writes it (without ``-A CHAIN``)."""
        words: List[str] = []
        if self.source is not None:
            words += (["!"] if self.source_inv else []) + ["-s", str(self.source)]
        if self.dest is not None:
            words += (["!"] if self.dest_inv else []) + ["-d", str(self.dest)]
        if self.in_iface:
            words += ["-i", self.in_iface]
        if self.proto != "all":
            words += ["-p", self.proto]
        for mod in self.modules:
            words += ["-m", mod]
            if mod == "state":
                words += ["--state", ",".join(self.states)]
            elif mod == "conntrack":
                words += ["--ctstate", ",".join(self.states)]
            elif mod == "multiport":
                words += ["--dports", self._ports(True)]
            elif mod in ("tcp", "udp"):
                words += ["--dport", self._ports(True)]
        words += ["-j", self.target]
        if self.target == "REJECT":
            words += ["--reject-with", self.reject_with]
        elif self.target == "LOG":
            if self.log_prefix:
                words += ["--log-prefix", _save_string(self.log_prefix)]
            if self.log_level != 4:
                words += ["--log-level", str(self.log_level)]
        return " ".join(words)


def _save_string(text: str) -> str:
    """A string option as iptables -S/-save writes it: bare, or in double quotes."""
    if text and not any(c.isspace() or c in "\"'\\" for c in text):
        return text
    return '"' + "".join("\\" + c if c in "\"'\\" else c for c in text) + '"'


#: network names ``iptables -L`` shows without -n (Debian's /etc/networks)
_NETWORKS = {"127.0.0.0": "loopback", "169.254.0.0": "link-local"}


def _addr_text(net: Optional[ipaddress.IPv4Network], inv: bool, numeric: bool) -> str:
    if net is None or net.prefixlen == 0:
        text = "0.0.0.0/0" if numeric else "anywhere"
    elif not numeric and str(net.network_address) in _NETWORKS and net.prefixlen < 32:
        text = f"{_NETWORKS[str(net.network_address)]}/{net.prefixlen}"
    elif net.prefixlen == 32:
        text = str(net.network_address)
    else:
        text = str(net)
    return ("!" if inv else " ") + f"{text:<19} "


@dataclass(frozen=True)
class Verdict:
    """What the firewall does with a new connection, and which rule said so."""

    action: str                 # ACCEPT, DROP or REJECT
    reject_with: str = ""
    rule: str = ""              # "-A INPUT ..." or "policy DROP"
    logs: Tuple[Tuple[str, int], ...] = ()      # (prefix, level) of each LOG rule passed

    def __str__(self) -> str:
        extra = f" ({self.reject_with})" if self.reject_with else ""
        return f"{self.action}{extra} by {self.rule}"


@dataclass
class Ruleset:
    """The ``filter`` table: policies and rules of INPUT, FORWARD and OUTPUT."""

    policies: Dict[str, str] = field(default_factory=lambda: {c: "ACCEPT" for c in CHAINS})
    chains: Dict[str, List[Rule]] = field(default_factory=lambda: {c: [] for c in CHAINS})

    def decide(self, dport: int, proto: str = "tcp", src: str = "0.0.0.0",
               iface: str = "eth0", state: str = "NEW") -> Verdict:
        """The INPUT chain's verdict on a packet: the first matching rule, else the policy."""
        logs: List[Tuple[str, int]] = []
        for rule in self.chains["INPUT"]:
            if rule.matches(dport, proto, src, iface, state):
                if rule.target == "LOG":          # LOG writes a line and lets the packet go on
                    logs.append((rule.log_prefix, rule.log_level))
                    continue
                return Verdict(rule.target, rule.reject_with, f"-A INPUT {rule.spec()}",
                               tuple(logs))
        return Verdict(self.policies["INPUT"], "", f"policy {self.policies['INPUT']}",
                       tuple(logs))

    def list(self, chain: Optional[str] = None, *, numeric: bool = False,
             line_numbers: bool = False, verbose: bool = False) -> str:
        """``iptables -L [chain] [-n] [--line-numbers] [-v]``."""
        blocks = []
        for name in ([chain] if chain else CHAINS):
            pol = self.policies[name]
            head = f"Chain {name} (policy {pol}{' 0 packets, 0 bytes' if verbose else ''})"
            cols = ("num  " if line_numbers else "") + (" pkts bytes " if verbose else "")
            cols += "target     prot opt " + ("in     out     " if verbose else "")
            cols += f"{'source':<19}  {'destination':<19} "
            rows = [head, cols]
            for i, r in enumerate(self.chains[name], 1):
                proto = str(_PROTO_NUMBERS[r.proto]) if numeric else r.proto
                row = f"{i:<4} " if line_numbers else ""
                row += f"{0:>5} {0:>5} " if verbose else ""
                row += f"{r.target:<9}  {proto:<5}-- "
                if verbose:
                    row += f" {r.in_iface or '*':<6} {'*':<6} "
                row += _addr_text(r.source, r.source_inv, numeric)
                row += _addr_text(r.dest, r.dest_inv, numeric)
                text = r.match_text(numeric)
                rows.append(row + (" " + text if text else ""))
            blocks.append("\n".join(rows))
        return "\n\n".join(blocks) + "\n"

    def rules_text(self, chain: Optional[str] = None) -> str:
        """``iptables -S [chain]``."""
        rows = [f"-P {c} {self.policies[c]}" for c in ([chain] if chain else CHAINS)]
        for c in ([chain] if chain else CHAINS):
            rows += [f"-A {c} {r.spec()}" for r in self.chains[c]]
        return "\n".join(rows) + "\n"

    def save(self, stamp: Optional[str] = "Sat Nov 28 00:00:00 2026") -> str:
        """``iptables-save``: the file ``iptables-restore`` reads back.

        *stamp* is the time in the ``# Generated by`` comment (``None``: no comments).
        """
        rows = [f"# Generated by iptables-save v1.8.9 (nf_tables) on {stamp}"] if stamp else []
        rows.append("*filter")
        rows += [f":{c} {self.policies[c]} [0:0]" for c in CHAINS]
        for c in CHAINS:
            rows += [f"-A {c} {r.spec()}" for r in self.chains[c]]
        rows.append("COMMIT")
        if stamp:
            rows.append(f"# Completed on {stamp}")
        return "\n".join(rows) + "\n"

    @classmethod
    def restore(cls, text: str, source: str = "(stdin)") -> "Ruleset":
        """Read an ``iptables-save`` file (only its ``*filter`` table counts)."""
        rs = cls()
        table = None
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("*"):
                table = line[1:]
            elif line == "COMMIT":
                table = None
            elif table != "filter":
                continue
            elif line.startswith(":"):
                name, pol = (line[1:].split() + ["", ""])[:2]
                if name not in CHAINS or pol not in ("ACCEPT", "DROP"):
                    raise IptablesError(f"iptables-restore: line {n} failed", 1)
                rs.policies[name] = pol
            else:
                try:
                    # iptables-save escapes ' inside double quotes, which shlex keeps
                    _apply(rs, shlex.split(line.replace("\\'", "'")))
                except IptablesError:
                    raise IptablesError(f"iptables-restore: line {n} failed", 1) from None
        return rs


def _port(text: str) -> int:
    value = _BY_NAME.get(text) if not text.isdigit() else int(text)
    if value is None or not 0 <= value <= 65535:
        raise IptablesError(f"{VERSION}: invalid port/service `{text}' specified\n{_TRY}")
    return value


def _ports(text: str) -> Tuple[Tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        out.append((_port(a), _port(b) if b else _port(a)))
    return tuple(out)


def _network(text: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        raise IptablesError(f"{VERSION}: host/network `{text}' not found\n{_TRY}") from None


def parse_rule(words: Sequence[str]) -> Rule:
    """A rule from its options (everything after ``-A CHAIN``).

    >>> parse_rule("-p tcp --dport 25 -j REJECT".split()).reject_with
    'icmp-port-unreachable'
    """
    f: Dict[str, Any] = {}
    modules: List[str] = []
    inv = False
    i = 0
    words = list(words)
    while i < len(words):
        w = words[i]
        arg = words[i + 1] if i + 1 < len(words) else None
        if w == "!":
            inv = True
            i += 1
            continue
        if w not in ("-m", "--match") and w.startswith("-") and arg is None and w not in ("-h",):
            raise IptablesError(f"{VERSION}: option \"{w}\" requires an argument\n{_TRY}")
        if w in ("-p", "--protocol"):
            proto = str(arg).lower()
            if proto not in _PROTO_NUMBERS:
                raise IptablesError(f"{VERSION}: unknown protocol \"{arg}\" specified\n{_TRY}")
            f["proto"] = proto
        elif w in ("-s", "--source"):
            f["source"], f["source_inv"] = _network(str(arg)), inv
        elif w in ("-d", "--destination"):
            f["dest"], f["dest_inv"] = _network(str(arg)), inv
        elif w in ("-i", "--in-interface"):
            f["in_iface"] = arg
        elif w in ("-m", "--match"):
            mod = str(arg)
            if mod not in ("tcp", "udp", "state", "conntrack", "multiport"):
                raise IptablesError(f"{VERSION}: Couldn't load match `{mod}':No such file or "
                                    f"directory\n{_TRY}")
            modules.append(mod)
        elif w in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            proto = f.get("proto", "all")
            multi = "multiport" in modules
            if w.endswith("s") and not multi or proto not in ("tcp", "udp"):
                raise IptablesError(f"{VERSION}: unknown option \"{w}\"\n{_TRY}")
            if not multi and proto not in modules:
                modules.append(proto)
            f["dports"], f["multiport"] = _ports(str(arg)), multi
        elif w in ("--state", "--ctstate"):
            states = str(arg).upper().split(",")
            if any(s not in _STATES for s in states):
                raise IptablesError(f"{VERSION}: Bad {w[2:]} \"{arg}\"\n{_TRY}")
            f["states"] = tuple(s for s in _STATES if s in states)
        elif w in ("-j", "--jump"):
            if arg not in TARGETS:
                raise IptablesError(f"{VERSION}: Chain '{arg}' does not exist\n{_TRY}")
            f["target"] = arg
        elif w in ("--log-prefix", "--log-level"):
            if f.get("target") != "LOG":          # target options come after their -j
                raise IptablesError(f"{VERSION}: unknown option \"{w}\"\n{_TRY}")
            if w == "--log-prefix":
                f["log_prefix"] = str(arg)[:29]   # the kernel keeps 29 characters
            else:
                level = int(str(arg)) if str(arg).isdigit() else _LOG_LEVELS.get(str(arg))
                if level is None or not 0 <= level <= 7:
                    raise IptablesError(f"{VERSION}: log level \"{arg}\" unknown\n\n{_TRY}")
                f["log_level"] = level
        elif w == "--reject-with":
            name = {"tcp-rst": "tcp-reset"}.get(str(arg), str(arg))
            if name not in _REJECT_WITH:
                raise IptablesError(f"{VERSION}: unknown reject type \"{arg}\"\n{_TRY}")
            f["reject_with"] = name
        else:
            raise IptablesError(f"{VERSION}: unknown option \"{w}\"\n{_TRY}")
        inv = False
        i += 2
    if "target" not in f:
        # a rule without -j only counts packets; the course always names a target
        raise IptablesError(f"{VERSION}: this lab needs -j ACCEPT, DROP or REJECT\n{_TRY}")
    if f.get("reject_with") and f["target"] != "REJECT":
        raise IptablesError(f"{VERSION}: unknown option \"--reject-with\"\n{_TRY}")
    if f["target"] == "REJECT" and not f.get("reject_with"):
        f["reject_with"] = "icmp-port-unreachable"
    f["modules"] = tuple(modules)
    return Rule(**f)


def _chain(name: Optional[str]) -> str:
    if name not in CHAINS:
        raise IptablesError("iptables: No chain/target/match by that name.", 1)
    return name


def _apply(rs: Ruleset, words: List[str]) -> str:
    """Carry out one command's words (without the leading ``iptables``); returns stdout."""
    opts = {"-n": False, "-v": False, "--line-numbers": False}
    for flag in ("-n", "--numeric", "-v", "--verbose", "--line-numbers"):
        while flag in words:
            words.remove(flag)
            opts[{"--numeric": "-n", "--verbose": "-v"}.get(flag, flag)] = True
    if words[:2] == ["-t", "filter"]:
        words = words[2:]
    elif words[:1] == ["-t"]:
        raise IptablesError("iptables: this lab has only the filter table.", 1)
    if not words:
        raise IptablesError(f"{VERSION}: no command specified\n{_TRY}")
    cmd, rest = words[0], words[1:]
    if cmd in ("-L", "--list"):
        return rs.list(_chain(rest[0]) if rest else None, numeric=opts["-n"],
                       line_numbers=opts["--line-numbers"], verbose=opts["-v"])
    if cmd in ("-S", "--list-rules"):
        return rs.rules_text(_chain(rest[0]) if rest else None)
    if cmd in ("-F", "--flush"):
        for c in ([_chain(rest[0])] if rest else CHAINS):
            rs.chains[c] = []
        return ""
    if cmd in ("-Z", "--zero"):
        return ""
    chain = _chain(rest[0] if rest else None)
    if cmd in ("-P", "--policy"):
        if len(rest) != 2 or rest[1] not in ("ACCEPT", "DROP"):
            raise IptablesError("iptables: Bad policy name. Run `dmesg' for more information.", 1)
        rs.policies[chain] = rest[1]
    elif cmd in ("-A", "--append"):
        rs.chains[chain].append(parse_rule(rest[1:]))
    elif cmd in ("-I", "--insert"):
        pos = 1
        if len(rest) > 1 and rest[1].isdigit():
            pos = int(rest[1])
            rest = rest[:1] + rest[2:]
        if not 1 <= pos <= len(rs.chains[chain]) + 1:
            raise IptablesError("iptables: Index of insertion too big.", 1)
        rs.chains[chain].insert(pos - 1, parse_rule(rest[1:]))
    elif cmd in ("-D", "--delete"):
        if len(rest) == 2 and rest[1].isdigit():
            n = int(rest[1])
            if not 1 <= n <= len(rs.chains[chain]):
                raise IptablesError("iptables: Index of deletion too big.", 1)
            del rs.chains[chain][n - 1]
        else:
            rule = parse_rule(rest[1:])
            if rule not in rs.chains[chain]:
                raise IptablesError("iptables: Bad rule (does a matching rule exist in that "
                                    "chain?).", 1)
            rs.chains[chain].remove(rule)
    else:
        raise IptablesError(f"{VERSION}: unknown option \"{cmd}\"\n{_TRY}")
    return ""


def run(rs: Ruleset, command: str) -> Output:
    """Run one ``iptables ...`` command line against *rs*.

    >>> rs = Ruleset(); print(run(rs, "iptables -P INPUT DROP").rc, rs.policies["INPUT"])
    0 DROP
    """
    words = shlex.split(command)
    if words and words[0] in ("iptables", "sudo"):
        words = words[1:] if words[0] == "iptables" else words[2:]
    if words in (["--version"], ["-V"]):
        return Output(0, VERSION + "\n")
    try:
        return Output(0, _apply(rs, words))
    except IptablesError as exc:
        return Output(exc.rc, "", str(exc) + "\n")


def copy(rs: Ruleset) -> Ruleset:
    """An independent copy of *rs*."""
    return replace(rs, policies=dict(rs.policies),
                   chains={c: list(v) for c, v in rs.chains.items()})

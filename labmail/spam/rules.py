"""SpamAssassin's configuration language: ``local.cf``, ``user_prefs`` and rule files.

One line, one setting::

    required_score   5.0
    header  LAB_SUBJ_MONEY  Subject =~ /\\$\\d{3,}/i
    describe LAB_SUBJ_MONEY Subject mentions a sum of money
    score   LAB_SUBJ_MONEY  1.5

:func:`parse_config` reads text into an immutable :class:`Config`; errors
name the file and the line, as ``spamassassin --lint`` does.

>>> cf = parse_config("required_hits 4\\nbody LAB_X /cheap pills/i\\nscore LAB_X 2.5\\n")
>>> cf.required_score, cf.rules["LAB_X"].kind, cf.score_of("LAB_X")
(4.0, 'body', 2.5)
"""
from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple

from ..errors import ConfigError
from .config import Config, Rule
from .meta import MetaExpr, MetaSyntaxError
from .regex import PerlRegexError, compile_parts, split_perl_regex

__all__ = ["Rule", "Config", "parse_config", "load_config", "ConfigBuilder", "RULES_DIR", "KNOWN_PLUGINS"]

log = logging.getLogger(__name__)

RULES_DIR = Path(__file__).with_name("rules")
VERSION_NUMBER = 4.000001            # what ``if (version >= 4.000000)`` compares against
RULE_KINDS = ("header", "body", "rawbody", "uri", "full", "meta")
# Plugins whose rules the lab implements; ``ifplugin`` blocks of others are skipped.
KNOWN_PLUGINS = frozenset(
    "Mail::SpamAssassin::Plugin::" + n for n in
    ("Bayes", "DNSEval", "HeaderEval", "BodyEval", "MIMEEval", "HTMLEval", "WLBLEval",
     "Check", "AutoLearnThreshold"))
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EVAL = re.compile(r"^eval:(\w+)\((.*)\)\s*$")


def _parse_bool(value: str) -> bool:
    if value.strip() not in ("0", "1"):
        raise ValueError("expected 0 or 1")
    return value.strip() == "1"


# Simple one-value settings: name -> (Config field, converter)
_SIMPLE: Dict[str, Tuple[str, Callable[[str], object]]] = {
    "required_score": ("required_score", float), "required_hits": ("required_score", float),
    "use_bayes": ("use_bayes", _parse_bool), "use_bayes_rules": ("use_bayes_rules", _parse_bool),
    "bayes_auto_learn": ("bayes_auto_learn", _parse_bool),
    "bayes_auto_learn_threshold_nonspam": ("bayes_auto_learn_threshold_nonspam", float),
    "bayes_auto_learn_threshold_spam": ("bayes_auto_learn_threshold_spam", float),
    "bayes_min_ham_num": ("bayes_min_ham_num", int), "bayes_min_spam_num": ("bayes_min_spam_num", int),
    "bayes_path": ("bayes_path", str), "skip_rbl_checks": ("skip_rbl_checks", _parse_bool),
    "fold_headers": ("fold_headers", _parse_bool), "report_charset": ("report_charset", str),
    "report_contact": ("report_contact", str),
    "encapsulated_content_description": ("encapsulated_content_description", str),
}
# Accepted and ignored: they tune things the lab does not simulate.
_IGNORED = frozenset({
    "lock_method", "ok_locales", "ok_languages", "dns_available", "bayes_ignore_header",
    "bayes_learn_to_journal", "envelope_sender_header", "internal_networks", "msa_networks",
    "clear_trusted_networks", "clear_internal_networks", "priority", "lang",
    "normalize_charset", "bayes_file_mode", "bayes_store_module", "bayes_sql_dsn",
    "add_header_all", "util_rb_tld", "util_rb_2tld", "util_rb_3tld", "clear_util_rb",
    "clear_originating_ip_headers", "originating_ip_headers", "bayes_expiry_max_db_size",
    "bayes_auto_expire", "allow_user_rules", "use_auto_whitelist", "use_auto_welcomelist",
    # settings of SpamAssassin's stock rules and plugins (so -C /usr/share/spamassassin reads quietly)
    "require_version", "enable_compat", "def_welcomelist_auth", "def_whitelist_auth", "welcomelist_auth",
    "whitelist_auth", "url_shortener", "url_shortener_get", "enlist_uri_host", "delist_uri_host",
    "enlist_addrlist", "delist_addrlist", "dns_local_ports_avoid", "redirector_pattern", "dns_block_rule",
    "reuse", "test", "bayes_stopword_en", "bayes_stopword_de", "bayes_stopword_fr", "bayes_stopword_es",
    "bayes_stopword_it", "bayes_stopword_nl", "bayes_stopword_pt", "bayes_stopword_dk",
    "bayes_stopword_fi", "bayes_stopword_gr", "bayes_stopword_hu", "bayes_stopword_no",
    "bayes_stopword_ru", "bayes_stopword_se", "bayes_stopword_tr",
})


class ConfigBuilder:
    """Accumulates lines from several files, then :meth:`freeze` s them.

    ``strict=False`` (lint mode) records errors in :attr:`errors` and goes on.
    """

    def __init__(self, *, strict: bool = True, base_dir: Optional[Path] = None) -> None:
        self.strict = strict
        self.base_dir = base_dir
        self.errors: List[ConfigError] = []
        self.values: Dict[str, object] = {}
        self.rules: Dict[str, Rule] = {}
        self.scores: Dict[str, Tuple[float, ...]] = {}
        self.describes: Dict[str, str] = {}
        self.tflags: Dict[str, FrozenSet[str]] = {}
        self.rewrite: Dict[str, str] = {}
        self.headers: List[Tuple[str, str, str]] = []
        self.report: List[str] = []
        self.unsafe: List[str] = []
        self.welcome: List[str] = []
        self.block: List[str] = []
        self.trusted: List[ipaddress._BaseNetwork] = []
        self.copy_headers: List[str] = []
        self.dns: List[Tuple[str, int]] = []
        self.notes: List[str] = []
        self.files: List[str] = []

    # -- errors ---------------------------------------------------------
    def error(self, path: str, line: int, message: str) -> None:
        err = ConfigError(path, line, message)
        if self.strict:
            raise err
        self.errors.append(err)

    # -- reading --------------------------------------------------------
    def feed_file(self, path: Path, depth: int = 0) -> None:
        """Read one file (``include`` recurses, up to a sane depth)."""
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            self.error(str(path), None, f"cannot read: {exc.strerror}")  # type: ignore[arg-type]
            return
        self.files.append(str(path))
        self.feed_text(text, str(path), depth)

    def feed_text(self, text: str, path: str = "<string>", depth: int = 0) -> None:
        """Read configuration *text* as if it came from file *path*."""
        stack: List[bool] = []           # one entry per open if/ifplugin: is it active?
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = re.sub(r"(?<!\\)#.*", "", raw).replace("\\#", "#").strip()
            if not line:
                continue
            word, _, rest = line.partition(" ")
            if "\t" in word:
                word, _, more = word.partition("\t")
                rest = (more + " " + rest).strip()
            word, rest = word.lower(), rest.strip()
            active = all(stack)
            if word in ("ifplugin", "if"):
                if word == "ifplugin":
                    ok = rest in KNOWN_PLUGINS
                    if not ok and active:
                        self.notes.append(f"{path}, line {lineno}: plugin {rest} not available in the lab; block skipped")
                else:
                    ok = self._if_condition(rest, path, lineno)
                stack.append(ok)
                continue
            if word == "else":
                if not stack:
                    self.error(path, lineno, "'else' without 'if'")
                else:
                    stack[-1] = not stack[-1]
                continue
            if word == "endif":
                if not stack:
                    self.error(path, lineno, "'endif' without 'if'")
                else:
                    stack.pop()
                continue
            if not active:
                continue
            if word == "include":
                target = Path(rest)
                if not target.is_absolute():
                    target = Path(path).parent / target
                if not rest.strip():
                    self.error(path, lineno, "failed to parse line, include needs a file name")
                elif depth > 10:
                    self.error(path, lineno, "include nested too deeply")
                else:
                    self.feed_file(target, depth + 1)
                continue
            try:
                self._setting(word, rest, path, lineno)
            except (ValueError, IndexError) as exc:
                self.error(path, lineno, f"{exc}: {raw.strip()}")
        if stack:
            self.error(path, len(text.splitlines()), "'if' or 'ifplugin' without 'endif'")

    def _if_condition(self, expr: str, path: str, lineno: int) -> bool:
        py = re.sub(r"plugin\s*\(\s*([\w:]+)\s*\)", lambda m: str(m.group(1) in KNOWN_PLUGINS), expr)
        py = re.sub(r"can\s*\(\s*[\w:]+\s*\)", "True", py)
        py = py.replace("version", repr(VERSION_NUMBER)).replace("&&", " and ").replace("||", " or ")
        py = re.sub(r"!(?!=)", " not ", py)
        if not re.fullmatch(r"[\s\d.()<>=!TrueFalsnotd]*", py):
            self.error(path, lineno, f"cannot evaluate 'if {expr}'")
            return False
        try:
            return bool(eval(py, {"__builtins__": {}}, {}))  # noqa: S307 - vetted characters only
        except Exception:       # a syntax error, or a stray word such as "if lean"
            self.error(path, lineno, f"cannot evaluate 'if {expr}'")
            return False

    def _setting(self, word: str, rest: str, path: str, lineno: int) -> None:
        if word in RULE_KINDS:
            self._rule(word, rest, path, lineno)
        elif word in _SIMPLE:
            attr, conv = _SIMPLE[word]
            self.values[attr] = conv(rest)
        elif word == "report_safe":
            if rest not in ("0", "1", "2"):
                raise ValueError("report_safe must be 0, 1 or 2")
            self.values["report_safe"] = int(rest)
        elif word == "score":
            name, *nums = rest.split()
            vals = [float(n) for n in nums]
            if len(vals) not in (1, 4):
                raise ValueError("score takes one or four numbers")
            self.scores[name] = tuple(vals * 4 if len(vals) == 1 else vals)
        elif word == "describe":
            name, _, text = rest.partition(" ")
            self.describes[name] = text.strip()
        elif word == "tflags":
            name, _, flags = rest.partition(" ")
            self.tflags[name] = frozenset(flags.split())
        elif word == "rewrite_header":
            which, _, text = rest.partition(" ")
            which = which.capitalize()
            if which not in ("Subject", "From", "To"):
                raise ValueError("rewrite_header takes Subject, From or To")
            self.rewrite[which] = text.strip()
        elif word in ("add_header", "remove_header"):
            which, name, *tmpl = rest.split(None, 2)
            if which not in ("spam", "ham", "all"):
                raise ValueError(f"{word} takes spam, ham or all")
            self.headers = [h for h in self.headers if not (h[1] == name and (which == "all" or h[0] == which))]
            if word == "add_header":
                template = tmpl[0] if tmpl else ""
                if len(template) > 1 and template[0] == template[-1] == '"':
                    template = template[1:-1]
                self.headers.append((which, name, template))
        elif word == "dns_server":
            m = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:\s]+)(?::(\d+))?", rest.strip())
            if not m:
                raise ValueError("dns_server takes ADDRESS[:PORT] or [IPV6]:PORT")
            self.dns.append((m.group(1) or m.group(3), int(m.group(2) or m.group(4) or 53)))
        elif word == "report_safe_copy_headers":
            self.copy_headers.extend(rest.split())
        elif word == "clear_headers":
            self.headers = [h for h in self.headers if h[1] == "Checker-Version"]
        elif word == "report":
            text = rest[1:-1] if len(rest) > 1 and rest[0] == rest[-1] == '"' else rest
            self.report.append(text)
        elif word == "clear_report_template":
            self.report = []
        elif word == "unsafe_report":
            self.unsafe.append(rest)
        elif word == "clear_unsafe_report_template":
            self.unsafe = []
        elif word in ("welcomelist_from", "whitelist_from"):
            self.welcome.extend(a.lower() for a in rest.split())
        elif word in ("blocklist_from", "blacklist_from"):
            self.block.extend(a.lower() for a in rest.split())
        elif word in ("unwelcomelist_from", "unwhitelist_from"):
            drop = {a.lower() for a in rest.split()}
            self.welcome = [a for a in self.welcome if a not in drop]
        elif word in ("unblocklist_from", "unblacklist_from"):
            drop = {a.lower() for a in rest.split()}
            self.block = [a for a in self.block if a not in drop]
        elif word == "trusted_networks":
            for net in rest.split():
                net = net.lstrip("!")
                self.trusted.append(ipaddress.ip_network(net if "/" in net else net.rstrip("."), strict=False))
        elif word == "loadplugin":
            name = rest.split()[0] if rest else ""
            if name not in KNOWN_PLUGINS:
                self.notes.append(f"{path}, line {lineno}: plugin {name} not available in the lab; ignored")
        elif word in _IGNORED:
            pass
        else:
            raise ValueError("failed to parse line, unknown setting")

    def _rule(self, kind: str, rest: str, path: str, lineno: int) -> None:
        name, _, spec = rest.partition(" ")
        if "\t" in name:
            name, _, more = name.partition("\t")
            spec = more + " " + spec
        spec = spec.strip()
        if not _NAME.match(name):
            raise ValueError(f"bad rule name {name!r}")
        if not spec:
            raise ValueError(f"rule {name} has no test")
        try:
            rule = self._rule_body(kind, name, spec, path, lineno)
        except PerlRegexError as exc:
            raise ValueError(f"invalid regexp for {name} '{spec}': {exc}") from None
        except MetaSyntaxError as exc:
            raise ValueError(f"invalid meta expression for {name}: {exc}") from None
        self.rules[name] = rule

    @staticmethod
    def _rule_body(kind: str, name: str, spec: str, path: str, lineno: int) -> Rule:
        base = dict(name=name, kind=kind, path=path, line=lineno)
        m = _EVAL.match(spec)
        if m and kind != "meta":
            args = tuple(a.strip().strip("'\"") for a in m.group(2).split(",") if a.strip())
            return Rule(**base, eval_name=m.group(1), eval_args=args)
        if kind == "meta":
            return Rule(**base, meta=MetaExpr.parse(spec))
        if kind == "header":
            if spec.startswith("exists:"):
                return Rule(**base, field=spec[7:].strip(), exists=True)
            hm = re.match(r"([\w-]+)(?::(raw|addr|name|host|domain|ip|revip))*\s*(=~|!~)\s*(.*)$", spec)
            if not hm:
                raise ValueError("header rules look like: header NAME Field =~ /regex/")
            pattern, flags, tail = split_perl_regex(hm.group(4))
            unset = re.match(r"\s*\[if-unset:\s*(.*?)\]\s*$", tail)
            if tail.strip() and not unset:
                raise PerlRegexError(f"unexpected text after regular expression: {tail.strip()!r}")
            mods = re.findall(r":(raw|addr|name|host|domain|ip|revip)", spec.split("=~")[0].split("!~")[0])
            return Rule(**base, field=hm.group(1), modifier=mods[0] if mods else None,
                        negate=hm.group(3) == "!~", pattern=compile_parts(pattern, flags),
                        if_unset=unset.group(1) if unset else "")
        pattern, flags, tail = split_perl_regex(spec)
        if tail.strip():
            raise PerlRegexError(f"unexpected text after regular expression: {tail.strip()!r}")
        return Rule(**base, pattern=compile_parts(pattern, flags))

    # -- result -----------------------------------------------------------
    def check_metas(self) -> None:
        """Lint: every name a meta rule uses must be defined (SpamAssassin warns too)."""
        for rule in self.rules.values():
            if rule.meta:
                for dep in sorted(rule.meta.names - set(self.rules)):
                    self.error(rule.path, rule.line, f"meta test {rule.name} has undefined dependency '{dep}'")

    def freeze(self) -> Config:
        """The immutable :class:`Config` built so far."""
        return Config(
            rules=MappingProxyType(dict(self.rules)),
            scores=MappingProxyType(dict(self.scores)),  # type: ignore[arg-type]
            describes=MappingProxyType(dict(self.describes)),
            tflags=MappingProxyType(dict(self.tflags)),
            rewrite_header=MappingProxyType(dict(self.rewrite)),
            headers=tuple(self.headers), report_template=tuple(self.report),
            unsafe_report_template=tuple(self.unsafe), welcomelist_from=tuple(self.welcome),
            blocklist_from=tuple(self.block), trusted_networks=tuple(self.trusted),
            report_safe_copy_headers=tuple(self.copy_headers), dns_servers=tuple(self.dns),
            notes=tuple(self.notes), files=tuple(self.files), **self.values)  # type: ignore[arg-type]


def parse_config(text: str, path: str = "<string>", *, defaults: bool = False) -> Config:
    """Parse configuration *text*; with ``defaults=True`` the course rule set comes first.

    >>> parse_config("report_safe 3\\n", "local.cf")
    Traceback (most recent call last):
    ...
    labmail.errors.ConfigError: local.cf, line 1: report_safe must be 0, 1 or 2: report_safe 3
    """
    b = ConfigBuilder()
    if defaults:
        for f in sorted(RULES_DIR.glob("*.cf")):
            b.feed_file(f)
    b.feed_text(text, path)
    return b.freeze()


def load_config(site_dir: Optional[Path] = None, user_prefs: Optional[Path] = None,
                extra_lines: Iterable[str] = (), *, rules_dir: Path = RULES_DIR,
                strict: bool = True) -> Tuple[Config, List[ConfigError]]:
    """Read the rule set, then ``site_dir/*.pre`` and ``*.cf``, ``user_prefs``, then ``--cf`` lines.

    That is SpamAssassin's order (``/usr/share/spamassassin``,
    ``/etc/mail/spamassassin``, ``~/.spamassassin/user_prefs``). Returns the
    config and, when ``strict=False`` (lint), the list of errors found.

    >>> cf, errors = load_config(extra_lines=["required_score 6"])
    >>> cf.required_score, errors
    (6.0, [])
    """
    b = ConfigBuilder(strict=strict)
    rule_files = sorted(Path(rules_dir).glob("*.cf"))
    if not rule_files:
        log.warning("no rule files (*.cf) in %s: only local settings apply", rules_dir)
    for f in rule_files:
        b.feed_file(f)
    if site_dir is not None and Path(site_dir).is_dir():
        for pattern in ("*.pre", "*.cf"):
            for f in sorted(Path(site_dir).glob(pattern)):
                b.feed_file(f)
    if user_prefs is not None and Path(user_prefs).is_file():
        b.feed_file(Path(user_prefs))
    extra = list(extra_lines)
    if extra:
        b.feed_text("\n".join(extra) + "\n", "--cf")
    b.check_metas()
    return b.freeze(), b.errors

"""The parsed configuration: :class:`Rule` and :class:`Config`, immutable.

:mod:`labmail.spam.rules` builds them from ``.cf`` text; everything else
(engine, report, spamd) only reads them.

>>> Config().required_score, Config().report_safe
(5.0, 1)
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import FrozenSet, Mapping, Optional, Tuple

from .meta import MetaExpr

__all__ = ["Rule", "Config"]


@dataclass(frozen=True)
class Rule:
    """One test: ``header``, ``body``, ``rawbody``, ``uri``, ``full`` or ``meta``.

    >>> Rule("LAB_X", "body", "local.cf", 3).kind
    'body'
    """

    name: str
    kind: str
    path: str
    line: int
    pattern: Optional["re.Pattern[str]"] = None
    field: Optional[str] = None          # header name, ALL, ToCc, MESSAGEID, ...
    modifier: Optional[str] = None       # raw, addr, name
    negate: bool = False                 # ``!~``
    exists: bool = False                 # ``exists:Field``
    if_unset: str = ""
    eval_name: Optional[str] = None      # ``eval:check_rbl('lab', 'bl.lab.test.')``
    eval_args: Tuple[str, ...] = ()
    meta: Optional[MetaExpr] = None


@dataclass(frozen=True)
class Config:
    """Everything ``local.cf`` and the rule files said, frozen.

    ``score_of(name, index)`` picks one of SpamAssassin's four score sets:
    0 plain, 1 with network tests, 2 with Bayes, 3 with both.
    """

    rules: Mapping[str, Rule] = field(default_factory=dict)
    scores: Mapping[str, Tuple[float, float, float, float]] = field(default_factory=dict)
    describes: Mapping[str, str] = field(default_factory=dict)
    tflags: Mapping[str, FrozenSet[str]] = field(default_factory=dict)
    required_score: float = 5.0
    report_safe: int = 1
    rewrite_header: Mapping[str, str] = field(default_factory=dict)
    headers: Tuple[Tuple[str, str, str], ...] = ()      # (spam|ham|all, Name, template)
    report_template: Tuple[str, ...] = ()
    unsafe_report_template: Tuple[str, ...] = ()
    report_contact: str = ""
    welcomelist_from: Tuple[str, ...] = ()
    blocklist_from: Tuple[str, ...] = ()
    trusted_networks: Tuple[ipaddress._BaseNetwork, ...] = ()
    use_bayes: bool = True
    use_bayes_rules: bool = True
    bayes_auto_learn: bool = True
    bayes_auto_learn_threshold_nonspam: float = 0.1
    bayes_auto_learn_threshold_spam: float = 12.0
    bayes_min_ham_num: int = 200
    bayes_min_spam_num: int = 200
    bayes_path: str = "~/.spamassassin/bayes"
    skip_rbl_checks: bool = False
    fold_headers: bool = True
    report_charset: str = "UTF-8"
    encapsulated_content_description: str = "original message before SpamAssassin"
    report_safe_copy_headers: Tuple[str, ...] = ()
    dns_servers: Tuple[Tuple[str, int], ...] = ()      # dns_server 127.0.0.1:10053
    notes: Tuple[str, ...] = ()
    files: Tuple[str, ...] = ()

    def score_of(self, name: str, index: int = 0) -> float:
        """The score of rule *name* in score set *index* (1.0 if never scored)."""
        s = self.scores.get(name)
        if s is None:
            return 0.0 if name.startswith("__") else (0.01 if name.startswith("T_") else 1.0)
        return s[index]

    def describe(self, name: str) -> str:
        """The rule's ``describe`` text, or its name."""
        return self.describes.get(name, name)

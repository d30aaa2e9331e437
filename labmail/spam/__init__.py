"""labmail.spam: SpamAssassin's role in the lab.

Rules add up to a score; ``required_score`` decides; ``report_safe``
decides what the recipient gets. The pieces, one job each:

* :mod:`.rules`     -- the configuration language (``local.cf``, rule files)
  into :mod:`.config` (immutable :class:`Config` and :class:`Rule`)
* :mod:`.render`    -- what rules see (decoded headers, rendered body, URIs)
* :mod:`.engine`    -- running the rules, scoring, autolearn
  (:mod:`.meta` for meta expressions, :mod:`.prefilter` for speed)
* :mod:`.report`    -- X-Spam-* headers, templates, report_safe 0/1/2
  (:mod:`.markup` undoes it)
* :mod:`.bayes`     -- sa-learn's token database and chi-square combining
* :mod:`.protocol`  -- SPAMC/1.5, sans-IO; :mod:`.spamd` and :mod:`.spamc` around it
* :mod:`.corpus`    -- the course's labelled messages and how a filter does on them

>>> r = check(b"Subject: hello\\n\\nSee you at lunch.\\n")
>>> r.is_spam, r.rewritten.startswith(b"X-Spam-Checker-Version: labmail")
(False, True)
"""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, Optional, Tuple

from ..clock import Clock, IdGenerator
from .engine import Engine, Hit, Resolver, Result
from .report import ReportContext, report_text, rewrite
from .rules import Config, load_config, parse_config

__all__ = ["check", "default_config", "Engine", "Result", "Hit", "Config",
           "load_config", "parse_config", "ReportContext", "report_text", "rewrite"]

_ENGINES: Dict[Tuple[int, int, int], Tuple[Config, Engine]] = {}


@lru_cache(maxsize=1)
def default_config() -> Config:
    """The course's default rule set alone (``labmail/spam/rules/*.cf``)."""
    return load_config()[0]


@lru_cache(maxsize=16)
def _config_from_text(text: str) -> Config:
    return load_config(extra_lines=text.splitlines())[0]


def engine_for(config: Config, bayes: object = None, resolver: Optional[Resolver] = None) -> Engine:
    """A compiled :class:`Engine`, reused while the same objects are passed."""
    key = (id(config), id(bayes), id(resolver))
    hit = _ENGINES.get(key)
    if hit is not None and hit[0] is config and hit[1].bayes is bayes and hit[1].resolver is resolver:
        return hit[1]
    if len(_ENGINES) > 32:
        _ENGINES.clear()
    engine = Engine(config, bayes=bayes, resolver=resolver)
    _ENGINES[key] = (config, engine)
    return engine


def check(message_bytes: bytes, config: "Optional[Config | str]" = None, *, bayes: object = None,
          resolver: Optional[Resolver] = None, hostname: str = "localhost",
          clock: Optional[Clock] = None, ids: Optional[IdGenerator] = None) -> Result:
    """Score a message and rewrite it the way SpamAssassin would.

    *config* is a :class:`Config` (from :func:`load_config`), or the text
    of a ``local.cf`` applied on top of the course rule set, or None for the
    rule set alone. Returns a :class:`Result` with ``score``, ``tests``,
    ``is_spam`` and ``rewritten`` (the bytes to deliver).

    >>> check(b"Subject: hi\\n\\nlunch?\\n", "required_score 0.1\\nbody LUNCH /lunch/\\n").is_spam
    True

    >>> r = check(b"Subject: x\\n\\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\\n")
    >>> r.is_spam, "GTUBE" in r.tests
    (True, True)
    """
    if isinstance(config, str):
        config = _config_from_text(config)
    config = config or default_config()
    result = engine_for(config, bayes, resolver).check(message_bytes)
    result.rewritten = rewrite(result, ReportContext(hostname, clock, ids))
    return result

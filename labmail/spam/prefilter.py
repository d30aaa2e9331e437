"""Cheap pre-checks for rule regexes: the literal words a match cannot do without.

Most rules miss most messages, and Python's ``re`` pays for every position
it tries. ``required_literals(r"\\b(?:cheap|discount) pills?")`` finds that
any match contains ``"cheap"`` or ``"discount"``; the engine first asks
whether one of those occurs in the (lower-cased) text with ``str.__contains__``,
which is far faster, and runs the regex only when it does. Real SpamAssassin
does the same kind of thing with its "body rule base" extraction.

The pre-check may only ever say "cannot match" when that is certain, so
anything the analysis does not understand gives ``None`` (always run the regex).

>>> sorted(required_literals(r"\\b(?:viagra|cialis)\\b", 0))
['cialis', 'viagra']
>>> required_literals(r"\\d+ dollars", 0)
frozenset({' dollars'})
>>> required_literals(r"[a-z]+", 0) is None
True
"""
from __future__ import annotations

import re
import warnings
from typing import FrozenSet, List, Optional

try:                                     # Python 3.11+
    from re import _constants as _c, _parser as _p  # type: ignore[attr-defined]
except ImportError:                      # pragma: no cover - Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _p  # type: ignore[no-redef]

__all__ = ["required_literals", "MIN_LITERAL"]

MIN_LITERAL = 3                          # shorter literals filter too little to be worth it
_Lits = Optional[FrozenSet[str]]


def _best(cands: List[FrozenSet[str]]) -> _Lits:
    good = [c for c in cands if c and min(map(len, c)) >= MIN_LITERAL]
    if not good:
        return None
    return max(good, key=lambda c: (min(map(len, c)), -len(c)))


def _seq(items) -> _Lits:
    cands: List[FrozenSet[str]] = []
    run: List[str] = []

    def flush() -> None:
        if run:
            cands.append(frozenset(["".join(run)]))
            run.clear()

    for op, arg in items:
        if op is _c.LITERAL:
            run.append(chr(arg))
            continue
        flush()
        sub = _node(op, arg)
        if sub is not None:
            cands.append(sub)
    flush()
    return _best(cands)


def _node(op, arg) -> _Lits:
    if op is _c.SUBPATTERN:
        return _seq(arg[-1])
    if op is _c.BRANCH:
        parts = [_seq(branch) for branch in arg[1]]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*parts)  # type: ignore[arg-type]
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        lo, _hi, sub = arg
        return _seq(sub) if lo >= 1 else None
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _seq(arg)
    return None


def required_literals(pattern: str, flags: int) -> _Lits:
    """Lower-cased strings one of which every match of *pattern* contains, or None."""
    if flags & re.VERBOSE:
        return None                       # whitespace and comments change meaning; keep it simple
    try:
        with warnings.catch_warnings():         # (the pattern compiled once already: no news here)
            warnings.simplefilter("ignore", FutureWarning)
            parsed = _p.parse(pattern, flags)
    except Exception:
        return None
    lits = _seq(list(parsed))
    if lits is None:
        return None
    lowered = frozenset(s.lower() for s in lits)
    # Case folding that changes length (e.g. 'İ') could make the check unsafe.
    if any(len(s) != len(t) for s, t in zip(sorted(lits), sorted(s.lower() for s in lits))):
        return None
    return lowered

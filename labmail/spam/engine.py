"""The scoring engine: run every rule on a message, add up the scores, decide.

A message is spam when the sum of the scores of the rules it hits reaches
``required_score``. :class:`Engine` compiles a :class:`~labmail.spam.rules.Config`
once and checks many messages with it.

>>> from labmail.spam.rules import parse_config
>>> cf = parse_config("body LAB_PILLS /cheap pills/i\\nscore LAB_PILLS 5.5\\n")
>>> r = Engine(cf).check(b"Subject: offer\\n\\nCheap pills for you\\n")
>>> r.is_spam, r.score, r.tests
(True, 5.5, ['LAB_PILLS'])
"""
from __future__ import annotations

import email.utils
import logging
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from .evals import EVAL_FUNCTIONS, Resolver, _Context
from .prefilter import required_literals
from .render import MessageView, decode_header_value
from .rules import Config, Rule

__all__ = ["Engine", "Result", "Hit", "Resolver", "EVAL_FUNCTIONS"]

log = logging.getLogger(__name__)

# Pseudo-headers SpamAssassin understands in header rules.
_PSEUDO = {"MESSAGEID": ("X-Message-Id", "Resent-Message-Id", "X-Original-Message-ID", "Message-Id")}


@dataclass(frozen=True)
class Hit:
    """One rule that hit, with the score it contributed."""

    name: str
    score: float
    description: str
    kind: str
    area: str = ""          # "BODY: ", "URI: ", ... as SpamAssassin prefixes descriptions

    @property
    def text(self) -> str:
        """The description as reports show it (area prefix included)."""
        return self.area + self.description


@dataclass
class Result:
    """The outcome of checking one message.

    ``tests`` lists the scored rules that hit, sorted as X-Spam-Status shows
    them; ``rewritten`` is filled by :func:`labmail.spam.check` with the
    message as SpamAssassin would hand it on.
    """

    score: float
    required: float
    is_spam: bool
    hits: Tuple[Hit, ...]
    view: MessageView
    config: Config
    bayes: Optional[float] = None
    autolearn: str = "no"
    autolearn_force: bool = False
    rewritten: bytes = b""
    subrules: Tuple[str, ...] = field(default=())

    @property
    def tests(self) -> List[str]:
        """Names of the scored rules that hit, alphabetically."""
        return sorted(h.name for h in self.hits)

    def summary(self) -> str:
        """The report's table: score, rule and description of each hit (as ``-t`` shows).

        >>> print(Engine(Config()).check(b"Subject: x\\n\\nhi\\n").summary())
        score=0.0 required=5.0 -> ham
         pts rule name              description
        ---- ---------------------- --------------------------------------------------
        """
        from .report import _summary
        verdict = "spam" if self.is_spam else "ham"
        return (f"score={self.score:.1f} required={self.required:.1f} -> {verdict}\n"
                " pts rule name              description\n"
                "---- ---------------------- --------------------------------------------------\n"
                + _summary(self)).rstrip("\n")

    def _repr_html_(self) -> str:
        """A notebook shows the verdict and the table of hits."""
        import html
        rows = "".join(f"<tr><td style='text-align:right'>{h.score:.1f}</td><td><code>{html.escape(h.name)}</code></td>"
                       f"<td>{html.escape(h.text)}</td></tr>" for h in self.hits)
        verdict = "<b style='color:#b00'>spam</b>" if self.is_spam else "<b style='color:#070'>ham</b>"
        return (f"<div>score {self.score:.1f} / required {self.required:.1f}: {verdict}"
                f"<table><tr><th>pts</th><th>rule</th><th>description</th></tr>{rows}</table></div>")


_AREAS = {"body": "BODY: ", "rawbody": "RAW: ", "uri": "URI: ", "full": "FULL: "}


def _area(rule: Rule) -> str:
    """SpamAssassin's description prefix: body tests (eval ones too) say BODY:, etc."""
    if rule.eval_name:
        return "BODY: " if rule.kind in ("body", "rawbody") else ""
    return _AREAS.get(rule.kind, "")


class Engine:
    """A compiled rule set: ``check(bytes) -> Result``.

    ``bayes`` is a :class:`labmail.spam.bayes.BayesStore` (optional);
    ``resolver`` answers DNSBL queries (network tests are off without it).
    """

    def __init__(self, config: Config, *, bayes: object = None,
                 resolver: Optional[Resolver] = None, autolearn: bool = True) -> None:
        self.config, self.bayes, self.resolver = config, bayes, resolver
        self.autolearn_enabled = autolearn
        self.use_network = resolver is not None and not config.skip_rbl_checks
        rules = list(config.rules.values())
        self.evals = [r for r in rules if r.eval_name and not self._is_net(r)]
        self.net = [r for r in rules if r.eval_name and self._is_net(r)]
        by_kind = {k: [r for r in rules if r.kind == k and not r.eval_name and not r.meta]
                   for k in ("header", "body", "rawbody", "uri", "full")}
        self.by_kind = by_kind
        self.metas = self._order_metas([r for r in rules if r.meta])
        # Literal words each regex needs: a fast "cannot match" before running it.
        self.literals = {r.name: required_literals(r.pattern.pattern, r.pattern.flags)
                         for r in rules if r.pattern is not None}
        # Without anchors, a regex that matches one paragraph also matches them
        # all joined: one search over the joined text can rule a rule out.
        self.joinable = {r.name for r in rules if r.pattern is not None
                         and not re.search(r"[\^$]|\\[AZz]", r.pattern.pattern)}
        for r in self.evals + self.net:
            if r.eval_name not in EVAL_FUNCTIONS:
                log.info("rule %s uses eval:%s, which the lab does not implement", r.name, r.eval_name)

    @staticmethod
    def _is_net(rule: Rule) -> bool:
        return bool(rule.eval_name and rule.eval_name.startswith("check_rbl"))

    @staticmethod
    def _order_metas(metas: List[Rule]) -> List[Rule]:
        """Metas that use other metas must run after them (a topological sort)."""
        names = {m.name: m for m in metas}
        done: Dict[str, None] = {}
        visiting: set = set()

        def visit(m: Rule) -> None:
            if m.name in done or m.name in visiting:
                return            # a cycle is ignored rather than looping forever
            visiting.add(m.name)
            for dep in m.meta.names if m.meta else ():
                if dep in names:
                    visit(names[dep])
            visiting.discard(m.name)
            done[m.name] = None

        for m in metas:
            visit(m)
        return [names[n] for n in done]

    # -- single rule kinds ---------------------------------------------------
    def _header_value(self, view: MessageView, rule: Rule) -> Optional[str]:
        fld = rule.field or ""
        raw = rule.modifier == "raw"
        if fld == "ALL":        # every header, one "Name: value" line each, in order
            return view.header_text if raw else "\n".join(
                f"{k}: {decode_header_value(' '.join(v.split()))}" for k, v in view.headers) + "\n"
        if fld == "ToCc":         # To and Cc, one per line (a regex without /s sees them apart)
            vals = [v for v in (view.header("To", raw=raw), view.header("Cc", raw=raw)) if v]
            value = "\n".join(vals) if vals else None
        elif fld in _PSEUDO:
            vals = [view.header(h, raw=raw) for h in _PSEUDO[fld] if view.has_header(h)]
            value = "\n".join(vals) if vals else None
        elif view.has_header(fld):
            value = view.header(fld, raw=raw)
        else:
            value = None
        if value is not None and rule.modifier in ("addr", "name"):
            # every address (or display name) of every such header, one per line
            pairs = email.utils.getaddresses(value.split("\n"))
            value = "\n".join(a if rule.modifier == "addr" else n for n, a in pairs
                               if (a if rule.modifier == "addr" else n))
        return value

    def _run(self, rule: Rule, view: MessageView, lowered: Dict[str, str]) -> int:
        kind, pat = rule.kind, rule.pattern
        multiple = "multiple" in self.config.tflags.get(rule.name, ())
        lits = self.literals.get(rule.name)
        if kind == "header":
            if rule.exists:
                return int(view.has_header(rule.field or ""))
            value = self._header_value(view, rule)
            if value is None:
                value = rule.if_unset
            if lits is not None and not any(l in value.lower() for l in lits):
                found = False
            else:
                found = bool(pat.search(value)) if pat else False
            return int(found != rule.negate)
        texts: Sequence[str]
        if kind == "body":
            texts = view.body_paragraphs
        elif kind == "rawbody":
            texts = view.rawbody_lines
        elif kind == "uri":
            texts = view.uris
        else:
            texts = [view.raw.decode("utf-8", "replace")]
        if kind not in lowered:
            lowered[kind] = "\n".join(texts)
            lowered[kind + ".lower"] = lowered[kind].lower()
        if lits is not None:
            if not any(l in lowered[kind + ".lower"] for l in lits):
                return 0
            if not multiple:
                # Only the paragraphs that contain one of the words can match.
                return int(any(pat.search(t) for t in texts
                               if any(l in t.lower() for l in lits))) if pat else 0
        elif rule.name in self.joinable and pat is not None and not pat.search(lowered[kind]):
            return 0
        if multiple:
            return sum(len(pat.findall(t)) for t in texts) if pat else 0
        return int(any(pat.search(t) for t in texts)) if pat else 0

    # -- the whole check -----------------------------------------------------
    def check(self, raw: bytes) -> Result:
        """Run every rule on *raw* and return the :class:`Result`."""
        view = MessageView.parse(raw)
        ctx = _Context(self, view)
        counts: Dict[str, float] = {}
        order: List[str] = []

        def record(rule: Rule, n: float) -> None:
            counts[rule.name] = n
            if n:
                order.append(rule.name)

        lowered: Dict[str, str] = {}
        if self.bayes is not None and self.config.use_bayes:
            ctx.bayes = self.bayes.probability(view, self.config)  # type: ignore[attr-defined]

        def run_eval(rule: Rule) -> None:
            fn = EVAL_FUNCTIONS.get(rule.eval_name or "")
            if fn is None or (rule.eval_name == "check_bayes" and not self.config.use_bayes_rules):
                counts[rule.name] = 0
            else:
                record(rule, int(bool(fn(ctx, rule.eval_args))))

        # SpamAssassin's order: each kind's regex rules, then its eval rules;
        # network (DNSBL) answers arrive last; meta rules after everything.
        for kind in ("header", "body", "uri", "rawbody", "full"):
            for rule in self.by_kind[kind]:
                record(rule, self._run(rule, view, lowered))
            for rule in self.evals:
                if rule.kind == kind:
                    run_eval(rule)
        for rule in self.net if self.use_network else []:
            run_eval(rule)
        for rule in self.metas:
            value = rule.meta.evaluate(counts) if rule.meta else 0
            record(rule, 1 if value else 0)
        index = (2 if ctx.bayes is not None else 0) + (1 if self.use_network else 0)
        hits: List[Hit] = []
        for name in order:
            if name.startswith("__"):
                continue
            score = self.config.score_of(name, index)
            if score == 0:
                continue
            rule = self.config.rules[name]
            hits.append(Hit(name, score, self.config.describe(name), rule.kind, _area(rule)))
        total = sum(h.score for h in hits)
        total = round(total, 10)
        result = Result(score=total, required=self.config.required_score,
                        is_spam=total >= self.config.required_score, hits=tuple(hits),
                        view=view, config=self.config, bayes=ctx.bayes,
                        subrules=tuple(n for n in order if n.startswith("__")))
        self._autolearn(result, index)
        return result

    # -- autolearn (SpamAssassin's AutoLearnThreshold plugin) ------------------
    def _autolearn(self, result: Result, index: int) -> None:
        cf = self.config
        if not cf.use_bayes or not cf.bayes_auto_learn or not self.autolearn_enabled:
            result.autolearn = "disabled"
            return
        if self.bayes is None:                 # no database to learn into: nothing learnt
            result.autolearn = "no"
            return
        # The learner's score ignores Bayes itself and rules that opt out.
        learn_index = index & 1
        total = head = body = learned = 0.0
        force = False
        for h in result.hits:
            flags = cf.tflags.get(h.name, frozenset())
            if "autolearn_force" in flags:
                force = True
            if "learn" in flags or h.name.startswith("BAYES_"):
                learned += h.score           # what Bayes itself said
                continue
            if flags & {"noautolearn", "userconf"}:
                continue
            s = cf.score_of(h.name, learn_index)
            total += s
            if h.kind == "header":
                head += s
            elif h.kind in ("body", "rawbody", "uri", "full"):
                body += s
        result.autolearn_force = force
        learn: Optional[bool] = None
        if total < cf.bayes_auto_learn_threshold_nonspam:
            # ...but never learn as ham what Bayes calls spam or what was marked spam
            learn = False if learned <= 1.0 and not result.is_spam else None
        elif total >= cf.bayes_auto_learn_threshold_spam:
            enough = force or (head >= 3 and body >= 3)
            learn = True if enough and learned >= -1.0 and result.is_spam else None
        if learn is None:
            result.autolearn = "no"
            return
        try:
            done = self.bayes.learn(result.view, spam=learn)  # type: ignore[attr-defined]
            result.autolearn = ("spam" if learn else "ham") if done else "no"
        except Exception as exc:  # the message is still delivered when learning fails
            log.warning("autolearn failed: %s", exc)
            result.autolearn = "failed"

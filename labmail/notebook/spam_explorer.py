"""A spam explorer: move ``required_score`` over a scored corpus, watch the confusion matrix.

Scores come once from the lab's SpamAssassin engine (:func:`score_corpus`);
after that a threshold only recounts (:func:`labmail.spam.corpus.confusion`),
so the slider answers at once.  :func:`confusion_text` and
:func:`confusion_html` are the pure renderings.

>>> ex = SpamExplorer([("spam", 9.0, "a"), ("spam", 4.0, "b"), ("ham", 0.5, "c"),
...                    ("ham", 5.5, "d")], threshold=5.0)
>>> print(ex)
required_score 5.0 over 4 messages (2 spam, 2 ham)
                 marked spam   marked ham
  really spam              1            1
  really ham               1            1
precision 50.0%  recall 50.0%  ham marked as spam 50.0%
>>> ex.threshold = 6.0; ex.confusion()
Confusion(tp=1, fp=0, fn=1, tn=2)
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from ..spam.corpus import Confusion, Sample, confusion, load
from ._ui import Tool, esc, html_table, ipywidgets

__all__ = ["Scored", "score_corpus", "confusion_text", "confusion_html", "SpamExplorer"]

Scored = Tuple[str, float, str]        # (label, score, name)


def score_corpus(samples: Optional[Sequence[Sample]] = None, engine: Any = None) -> List[Scored]:
    """Score every message (default: the course corpus with the default rules)."""
    if engine is None:
        from ..spam import Engine, default_config
        engine = Engine(default_config())
    samples = load() if samples is None else samples
    return [(s.label, float(engine.check(s.data).score), s.path.name) for s in samples]


def confusion_text(c: Confusion, threshold: float) -> str:
    """The confusion matrix and its rates as plain text."""
    total = c.tp + c.fp + c.fn + c.tn
    return "\n".join([
        f"required_score {threshold:.1f} over {total} messages "
        f"({c.tp + c.fn} spam, {c.fp + c.tn} ham)",
        f"{'':<17}{'marked spam':>11}{'marked ham':>13}",
        f"{'  really spam':<17}{c.tp:>11}{c.fn:>13}",
        f"{'  really ham':<17}{c.fp:>11}{c.tn:>13}",
        f"precision {100 * c.precision:.1f}%  recall {100 * c.recall:.1f}%  "
        f"ham marked as spam {100 * c.ham_marked_spam:.1f}%"])


def confusion_html(c: Confusion, threshold: float, wrong: Sequence[Scored] = ()) -> str:
    """The matrix as an HTML table (mistakes in red) and the misjudged messages."""
    good, bad = "background:#d5f5e3", "background:#fadbd8"
    cell = "padding:4px 14px;text-align:right"
    table = (f"<table style='border-collapse:collapse;font-family:monospace'>"
             f"<tr><th></th><th style='{cell}'>marked spam</th><th style='{cell}'>marked ham</th></tr>"
             f"<tr><th style='text-align:left'>really spam</th><td style='{cell};{good}'>{c.tp}</td>"
             f"<td style='{cell};{bad}'>{c.fn}</td></tr>"
             f"<tr><th style='text-align:left'>really ham</th><td style='{cell};{bad}'>{c.fp}</td>"
             f"<td style='{cell};{good}'>{c.tn}</td></tr></table>")
    rates = (f"<div>required_score <b>{threshold:.1f}</b>: precision "
             f"{100 * c.precision:.1f}%, recall {100 * c.recall:.1f}%, ham marked as spam "
             f"<b>{100 * c.ham_marked_spam:.1f}%</b></div>")
    extra = ""
    if wrong:
        extra = "<div style='margin-top:6px'>misjudged:</div>" + html_table(
            ["message", "really", "score"], [(n, lbl, f"{s:.1f}") for lbl, s, n in wrong[:15]])
    return rates + table + extra


class SpamExplorer(Tool):
    """Scored messages and a threshold; text, HTML, and a slider widget.

    >>> ex = SpamExplorer()              # scores the course corpus (~1 s)   # doctest: +SKIP
    >>> ex.widget()                                                          # doctest: +SKIP
    """

    def __init__(self, scores: Optional[Sequence[Scored]] = None, threshold: float = 5.0) -> None:
        self.scores: List[Scored] = list(score_corpus() if scores is None else scores)
        self.threshold = threshold

    def confusion(self, threshold: Optional[float] = None) -> Confusion:
        """The counts at *threshold* (default: the current one)."""
        t = self.threshold if threshold is None else threshold
        return confusion(((lbl, s) for lbl, s, _ in self.scores), t)

    def wrong(self) -> List[Scored]:
        """Messages judged wrongly at the current threshold, the closest calls first."""
        bad = [x for x in self.scores if (x[1] >= self.threshold) != (x[0] == "spam")]
        return sorted(bad, key=lambda x: abs(x[1] - self.threshold))

    def sweep(self, thresholds: Sequence[float]) -> List[Tuple[float, Confusion]]:
        """The confusion at each threshold (for a table or a plot)."""
        return [(t, self.confusion(t)) for t in thresholds]

    def text(self) -> str:
        return confusion_text(self.confusion(), self.threshold)

    def html(self) -> str:
        return confusion_html(self.confusion(), self.threshold, self.wrong())

    def widget(self) -> Any:
        """A ``required_score`` slider and the matrix (ipywidgets)."""
        w = ipywidgets()
        top = max([s for _, s, _ in self.scores] + [10.0])
        slider = w.FloatSlider(value=self.threshold, min=-2.0, max=min(top, 30.0), step=0.1,
                               description="required_score", continuous_update=True,
                               style={"description_width": "initial"},
                               layout=w.Layout(width="60%"))
        pane = w.HTML(self.html())

        def update(change: Any) -> None:
            self.threshold = float(change["new"])
            pane.value = self.html()

        slider.observe(update, names="value")
        note = w.HTML(f"<small>{esc(len(self.scores))} messages scored once; the slider only "
                      "recounts.</small>")
        return w.VBox([slider, pane, note])

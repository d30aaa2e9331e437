"""The course's labelled corpus, and how well a filter does on it.

The corpus (``labmail/data/corpus/{spam,ham}/*.eml``) is written for the
course; :func:`halves` splits it the way the acceptance test does (even
files to train Bayes, odd files held out), :func:`evaluate` scores a set of
messages, and :func:`confusion` recounts for any threshold -- what a lesson's
threshold slider needs.

>>> train, test = halves()
>>> len(train) > 100 and len(test) > 100
True
>>> confusion([("spam", 7.0), ("ham", 1.0), ("spam", 3.0)], 5.0)
Confusion(tp=1, fp=0, fn=1, tn=1)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

__all__ = ["CORPUS_DIR", "Sample", "Confusion", "Evaluation", "load", "halves", "train", "evaluate",
           "confusion", "progress_html", "progress_text"]

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"


@dataclass(frozen=True)
class Sample:
    """One labelled message file."""

    path: Path
    label: str                      # "spam" or "ham"

    @property
    def data(self) -> bytes:
        """The message bytes."""
        return self.path.read_bytes()

    @property
    def category(self) -> str:
        """What kind of message it is (from the file name: ``012-phishing.eml`` -> phishing)."""
        return self.path.stem.split("-", 1)[-1]


@dataclass(frozen=True)
class Confusion:
    """Counts of right and wrong decisions (spam is the "positive" class)."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def precision(self) -> float:
        """Of the messages marked spam, the share that were spam."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Of the spam, the share that was caught."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """The harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def ham_marked_spam(self) -> float:
        """The false-positive rate: the share of ham that was marked spam."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else 0.0


@dataclass(frozen=True)
class Evaluation:
    """Scores of every message and the confusion counts at the configured threshold."""

    scores: Tuple[Tuple[str, float], ...]      # (label, score) per message
    confusion: Confusion
    wrong: Tuple[Sample, ...]


def load(directory: Path = CORPUS_DIR) -> List[Sample]:
    """Every message of the corpus, spam first, in file-name order."""
    return [Sample(f, kind) for kind in ("spam", "ham") for f in sorted((Path(directory) / kind).glob("*.eml"))]


def halves(directory: Path = CORPUS_DIR) -> Tuple[List[Sample], List[Sample]]:
    """(train, test): even-numbered files of each class to learn from, odd ones held out."""
    train_set, test_set = [], []
    for kind in ("spam", "ham"):
        files = [s for s in load(directory) if s.label == kind]
        train_set += files[0::2]
        test_set += files[1::2]
    return train_set, test_set


def train(store, samples: Sequence[Sample], progress: Optional[Callable[[int, int], None]] = None) -> int:
    """Learn *samples* into a :class:`~labmail.spam.bayes.BayesStore`; returns how many were new."""
    learned = 0
    for i, s in enumerate(samples, 1):
        learned += bool(store.learn(s.data, spam=s.label == "spam"))
        if progress:
            progress(i, len(samples))
    return learned


def confusion(scores: Iterable[Tuple[str, float]], threshold: float) -> Confusion:
    """Recount decisions for another ``required_score`` (score >= threshold is spam)."""
    tp = fp = fn = tn = 0
    for label, score in scores:
        flagged = score >= threshold
        if label == "spam":
            tp, fn = tp + flagged, fn + (not flagged)
        else:
            fp, tn = fp + flagged, tn + (not flagged)
    return Confusion(tp, fp, fn, tn)


def evaluate(engine, samples: Sequence[Sample]) -> Evaluation:
    """Check every sample with *engine* (an :class:`~labmail.spam.engine.Engine`)."""
    scores, wrong = [], []
    for s in samples:
        result = engine.check(s.data)
        scores.append((s.label, result.score))
        if result.is_spam != (s.label == "spam"):
            wrong.append(s)
    return Evaluation(tuple(scores), confusion(scores, engine.config.required_score), tuple(wrong))


def progress_text(done: int, total: int, what: str = "messages") -> str:
    """A terminal counter line, as ``sa-learn`` shows while it learns.

    >>> progress_text(12, 240)
    '12/240 messages (5%)'
    """
    pct = 100 * done // total if total else 100
    return f"{done}/{total} {what} ({pct}%)"


def progress_html(done: int, total: int, what: str = "messages learnt") -> str:
    """The same as an HTML progress bar (put it in an ``ipywidgets.HTML`` in a notebook).

    >>> progress_html(1, 4)
    '<progress value="1" max="4" style="width:20em"></progress> 1/4 messages learnt'
    """
    return f'<progress value="{done}" max="{total}" style="width:20em"></progress> {done}/{total} {what}'

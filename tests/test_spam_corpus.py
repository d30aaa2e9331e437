"""Acceptance: the course corpus, default rules + Bayes trained on one half, scored on the other."""
from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from labmail.spam import Engine, default_config
from labmail.spam.bayes import BayesStore

CORPUS = Path(__file__).resolve().parents[1] / "labmail" / "data" / "corpus"


def _files(kind):
    return sorted((CORPUS / kind).glob("*.eml"))


@pytest.fixture(scope="module")
def figures():
    """Train on even-numbered files, score the odd-numbered ones (held out)."""
    db = BayesStore(None)
    for kind in ("spam", "ham"):
        for f in _files(kind)[0::2]:
            db.learn(f.read_bytes(), spam=kind == "spam")
    engine = Engine(default_config(), bayes=db, autolearn=False)
    rules_only = Engine(default_config())
    out = {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "rules_tp": 0, "rules_fp": 0, "wrong": []}
    for kind in ("spam", "ham"):
        for f in _files(kind)[1::2]:
            data = f.read_bytes()
            flagged = engine.check(data).is_spam
            plain = rules_only.check(data).is_spam
            if kind == "spam":
                out["tp" if flagged else "fn"] += 1
                out["rules_tp"] += plain
            else:
                out["fp" if flagged else "tn"] += 1
                out["rules_fp"] += plain
            if flagged != (kind == "spam"):
                out["wrong"].append(f.name)
    p = out["tp"] / max(1, out["tp"] + out["fp"])
    r = out["tp"] / max(1, out["tp"] + out["fn"])
    out["precision"], out["recall"] = p, r
    out["f1"] = 2 * p * r / (p + r) if p + r else 0.0
    out["fpr"] = out["fp"] / max(1, out["fp"] + out["tn"])
    print(f"\nheld-out: tp={out['tp']} fp={out['fp']} fn={out['fn']} tn={out['tn']} "
          f"F1={out['f1']:.3f} ham-marked-spam={100 * out['fpr']:.2f}% "
          f"(rules alone: {out['rules_tp']} spam caught, {out['rules_fp']} ham flagged)")
    return out


def test_corpus_is_big_and_varied():
    spam, ham = _files("spam"), _files("ham")
    assert len(spam) + len(ham) >= 200 and len(spam) >= 100 and len(ham) >= 100
    types, charsets, attachments = set(), set(), 0
    for f in spam + ham:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        for part in msg.walk():
            types.add(part.get_content_type())
            if part.get_content_charset():
                charsets.add(part.get_content_charset())
            attachments += part.get_filename() is not None
    assert {"text/plain", "text/html", "multipart/alternative", "multipart/mixed"} <= types
    assert attachments >= 20
    categories = {f.stem.split("-", 1)[1] for f in ham}
    assert {"personal", "newsletter", "de", "fr", "ja", "ru"} <= categories


def test_held_out_f1_and_false_positive_rate(figures):
    assert figures["f1"] >= 0.95, figures["wrong"]
    assert figures["fpr"] <= 0.01, figures["wrong"]


def test_rules_alone_already_catch_most_spam_without_false_positives(figures):
    held_spam = len(_files("spam")[1::2])
    assert figures["rules_tp"] >= 0.8 * held_spam
    assert figures["rules_fp"] == 0

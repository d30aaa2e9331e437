"""Acceptance: the course corpus, default rules + Bayes trained on one half, scored on the other."""
from __future__ import annotations

import email
import email.policy

import pytest

from labmail.spam import Engine, default_config
from labmail.spam.bayes import BayesStore
from labmail.spam.corpus import confusion, evaluate, halves, load, train


@pytest.fixture(scope="module")
def figures():
    """Train on even-numbered files, score the odd-numbered ones (held out)."""
    train_set, test_set = halves()
    db = BayesStore(None)
    seen = []
    assert train(db, train_set, progress=lambda done, total: seen.append((done, total))) == len(train_set)
    assert seen[-1] == (len(train_set), len(train_set))
    with_bayes = evaluate(Engine(default_config(), bayes=db, autolearn=False), test_set)
    rules_only = evaluate(Engine(default_config()), test_set)
    c, r = with_bayes.confusion, rules_only.confusion
    print(f"\nheld-out half ({len(test_set)} messages), default rules + Bayes trained on the other half: "
          f"tp={c.tp} fp={c.fp} fn={c.fn} tn={c.tn} precision={c.precision:.3f} recall={c.recall:.3f} "
          f"F1={c.f1:.3f} ham marked spam={100 * c.ham_marked_spam:.2f}%\n"
          f"rules alone: tp={r.tp} fp={r.fp} fn={r.fn} tn={r.tn} F1={r.f1:.3f} "
          f"ham marked spam={100 * r.ham_marked_spam:.2f}%")
    return with_bayes, rules_only


def test_corpus_is_big_and_varied():
    samples = load()
    spam = [s for s in samples if s.label == "spam"]
    ham = [s for s in samples if s.label == "ham"]
    assert len(samples) >= 200 and len(spam) >= 100 and len(ham) >= 100
    types, attachments = set(), 0
    for s in samples:
        msg = email.message_from_bytes(s.data, policy=email.policy.default)
        for part in msg.walk():
            types.add(part.get_content_type())
            attachments += part.get_filename() is not None
    assert {"text/plain", "text/html", "multipart/alternative", "multipart/mixed"} <= types
    assert attachments >= 20
    assert {"personal", "newsletter", "shop-promo", "de", "fr", "ja", "ru"} <= {s.category for s in ham}
    assert {"phishing", "advance-fee", "malware", "de", "fr", "es"} <= {s.category for s in spam}


def test_held_out_f1_and_false_positive_rate(figures):
    with_bayes, _ = figures
    assert with_bayes.confusion.f1 >= 0.95, [s.path.name for s in with_bayes.wrong]
    assert with_bayes.confusion.ham_marked_spam <= 0.01, [s.path.name for s in with_bayes.wrong]


def test_rules_alone_catch_most_spam_without_false_positives(figures):
    _, rules_only = figures
    assert rules_only.confusion.recall >= 0.8
    assert rules_only.confusion.fp == 0


def test_threshold_trades_false_positives_for_false_negatives(figures):
    _, rules_only = figures
    low, high = confusion(rules_only.scores, 1.0), confusion(rules_only.scores, 10.0)
    assert low.tp >= rules_only.confusion.tp >= high.tp
    assert low.fp >= rules_only.confusion.fp >= high.fp

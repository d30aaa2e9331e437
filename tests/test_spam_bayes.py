"""Bayes: tokens, Robinson/Fisher combining, BAYES_xx rules, sa-learn, autolearn."""
from __future__ import annotations

import json
import math

import pytest

from labmail.cli import main
from labmail.spam import Engine, parse_config
from labmail.spam.bayes import BayesStore, chi2q, combine, tokenize
from labmail.spam.render import MessageView
from labmail.spam.rules import RULES_DIR

BAYES_CF = (RULES_DIR / "25_bayes.cf").read_text()


def spam(i):
    return (f"From: promo{i}@deals.test\nSubject: cheap pills offer {i}\nMessage-ID: <s{i}@deals.test>\n\n"
            f"Buy cheap pills now, discount pharmacy offer number {i}.\n").encode()


def ham(i):
    return (f"From: alice@example.org\nSubject: meeting notes {i}\nMessage-ID: <h{i}@example.org>\n\n"
            f"Here are the notes from the project meeting {i}, see you tomorrow.\n").encode()


def trained(n=5):
    db = BayesStore(None)
    for i in range(n):
        db.learn(spam(i), spam=True)
        db.learn(ham(i), spam=False)
    return db


def test_chi2q_and_combine():
    assert chi2q(0.0, 2) == 1.0
    assert chi2q(2.0, 2) == pytest.approx(math.exp(-1))
    assert combine([]) == 0.5
    assert combine([0.99] * 10) > 0.99 and combine([0.01] * 10) < 0.01
    assert combine([0.99, 0.01]) == pytest.approx(0.5, abs=0.01)


def test_tokens_cover_body_headers_and_link_domains():
    toks = tokenize(MessageView.parse(b"From: Bob <bob@example.org>\nSubject: Quarterly report\n\n"
                                      b"See https://files.example.net/q3 and averyveryverylongwordindeed\n"))
    assert {"see", "HSubject:quarterly", "HFrom:bob", "U:files.example.net", "sk:averyve"} <= toks


def test_learn_forget_and_the_seen_database():
    db = trained(3)
    assert (db.nspam, db.nham) == (3, 3)
    assert not db.learn(spam(0), spam=True), "learning the same message twice changes nothing"
    assert db.learn(spam(0), spam=False), "re-learning as the other class moves it"
    assert (db.nspam, db.nham) == (2, 4)
    assert db.forget(spam(0)) and (db.nspam, db.nham) == (2, 3)
    assert not db.forget(spam(0))


def test_probability_needs_enough_training():
    db = trained(3)
    assert db.probability(spam(9)) is None                      # SpamAssassin waits for 200 of each
    assert db.probability(spam(9), min_spam=3, min_ham=3) > 0.95
    assert db.probability(ham(9), min_spam=3, min_ham=3) < 0.05


def test_bayes_rules_hit_by_probability_band():
    db = trained(5)
    cf = parse_config(BAYES_CF + "bayes_min_spam_num 5\nbayes_min_ham_num 5\nbayes_auto_learn 0\n")
    engine = Engine(cf, bayes=db)
    s, h = engine.check(spam(42)), engine.check(ham(42))
    assert "BAYES_99" in s.tests and s.bayes > 0.99 and s.score >= 3.5
    assert h.tests == ["BAYES_00"] and h.score == -2.0
    untrained = Engine(cf, bayes=BayesStore(None)).check(spam(1))
    assert untrained.bayes is None and untrained.tests == []


def test_autolearn_thresholds():
    rules = (BAYES_CF + "bayes_min_spam_num 1000\nbayes_min_ham_num 1000\n"
             "header HDR Subject =~ /pills/\nscore HDR 6\nbody BDY /pharmacy/\nscore BDY 6.5\n"
             "body NICE /notes/\nscore NICE -1\n")
    db = BayesStore(None)
    engine = Engine(parse_config(rules), bayes=db)
    r = engine.check(spam(1))
    assert r.score == 12.5 and r.autolearn == "spam" and db.nspam == 1
    r = engine.check(ham(1))
    assert r.autolearn == "ham" and db.nham == 1
    # 12 points but all from the body: SpamAssassin wants 3 from headers and 3 from the body
    only_body = Engine(parse_config(rules + "score HDR 0\nscore BDY 13\n"), bayes=db).check(spam(2))
    assert only_body.autolearn == "no"
    off = Engine(parse_config(rules + "bayes_auto_learn 0\n"), bayes=db).check(spam(3))
    assert off.autolearn == "disabled"


def test_database_round_trips_through_json_files(tmp_path):
    db = BayesStore(tmp_path)
    db.learn(spam(1), spam=True)
    db.save()
    data = json.loads((tmp_path / "bayes_toks.json").read_text())
    assert data["nspam"] == 1 and data["tokens"]["pills"][0] == 1
    again = BayesStore(tmp_path)
    assert again.nspam == 1 and again.seen == db.seen


def test_sa_learn_command(tmp_path, capsys):
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.eml").write_bytes(spam(i))
    assert main(["sa-learn", "--spam", "--dbpath", str(tmp_path / "db"), str(folder)]) == 0
    assert "Learned tokens from 3 message(s) (3 message(s) examined)" in capsys.readouterr().out
    assert main(["sa-learn", "--spam", "--dbpath", str(tmp_path / "db"), str(folder)]) == 0
    assert "Learned tokens from 0 message(s) (3 message(s) examined)" in capsys.readouterr().out
    assert main(["sa-learn", "--dump", "magic", "--dbpath", str(tmp_path / "db")]) == 0
    out = capsys.readouterr().out
    assert "0.000          0          3          0  non-token data: nspam\n" in out
    assert len(out.splitlines()) == 10 and out.splitlines()[-1].endswith("non-token data: last expire reduction count")
    assert main(["sa-learn", "--forget", "--dbpath", str(tmp_path / "db"), str(folder / "0.eml")]) == 0
    assert "Forgot tokens from 1 message(s)" in capsys.readouterr().out

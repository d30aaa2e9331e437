"""Bayes: learn which words mean spam, then judge new mail by them.

``sa-learn --spam`` and ``--ham`` count, for every *token* (word, header
word, link domain), how many spam and how many ham messages contained it.
To judge a message, each token's counts become a probability (Robinson's
formula, which stays careful about rare tokens), the 150 most telling ones
are combined with Fisher's chi-square method, and the result -- 0 ham, 1
spam -- chooses one of the ``BAYES_00`` ... ``BAYES_99`` rules.

The database is two JSON files a student can open: ``bayes_toks.json`` (token
counts) and ``bayes_seen.json`` (which messages were learnt, so nothing is
learnt twice), in the directory ``bayes_path`` names (``~/.spamassassin``).

>>> db = BayesStore(None)                    # in memory
>>> for i in range(3):
...     _ = db.learn(b"Subject: cheap pills\\n\\nbuy cheap pills now %d\\n" % i, spam=True)
...     _ = db.learn(b"Subject: lunch\\n\\nlunch at noon with the team %d\\n" % i, spam=False)
>>> db.nspam, db.nham
(3, 3)
>>> db.probability(b"Subject: pills\\n\\ncheap pills\\n", min_spam=1, min_ham=1) > 0.9
True
"""
from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import math
import os
import re
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple, Union

from .pristine import split_pristine
from .render import MessageView

__all__ = ["BayesStore", "tokenize", "chi2q", "combine", "learn_paths", "message_files"]

log = logging.getLogger(__name__)

# Robinson's constants, as SpamAssassin tunes them.
FW_S = 0.030              # strength of the prior for rarely seen tokens
FW_X = 0.538              # the prior: an unknown token leans slightly spammy
MIN_PROB_STRENGTH = 0.346  # tokens closer than this to 0.5 are ignored
N_SIGNIFICANT = 150
MAX_TOKEN = 15
_WORD = re.compile(r"[^\s\-\"'.,/@:;!?()\[\]<>=*&#|]+")
_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "X-Mailer", "User-Agent", "Content-Type",
            "Message-ID", "List-Id", "Return-Path", "X-Priority")
_MsgLike = Union[bytes, MessageView]


def _words(text: str, prefix: str = "") -> Set[str]:
    out: Set[str] = set()
    for w in set(_WORD.findall(text)):
        if len(w) < 3:
            continue
        if len(w) > MAX_TOKEN:
            out.add(f"{prefix}sk:{w[:7].lower()}")      # a long token only counts by its start
        else:
            out.add(prefix + (w.lower() if w.istitle() or w.islower() else w))
    return out


def tokenize(view: MessageView) -> Set[str]:
    """The set of tokens Bayes learns from a message.

    Body words as written (Title-case folded), header words prefixed with
    ``H<name>:``, and the host names of links prefixed with ``U:``.

    >>> toks = tokenize(MessageView.parse(b"Subject: Hello there\\n\\nClick http://shop.example/x\\n"))
    >>> sorted(t for t in toks if t.startswith(("H", "U:")) or t == "click")
    ['HSubject:hello', 'HSubject:there', 'U:shop.example', 'click']
    """
    toks: Set[str] = set()
    subj = 1 if view.header("Subject").strip() else 0
    toks.update(_words("\n".join(view.body_paragraphs[subj:])))
    for name in _HEADERS:
        value = view.header(name)
        if value:
            toks.update(_words(value, f"H{name}:"))
    for ip in re.findall(r"\[(\d+\.\d+\.\d+)\.\d+\]", view.header("Received", raw=True)):
        toks.add(f"HRcvd:{ip}")
    for uri in view.uris:
        m = re.match(r"(?i)(?:https?|ftp)://([^/?#:]+)", uri)
        if m:
            toks.add("U:" + m.group(1).lower())
    for ctype in view.content_types:
        toks.add("MIME:" + ctype)
    return toks


def _message_time(view: MessageView) -> int:
    """When the message was sent (its Date:), as SpamAssassin stamps token access times."""
    try:
        return int(email.utils.parsedate_to_datetime(view.header("Date")).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return int(time.time())


def chi2q(x2: float, v: int) -> float:
    """P(chi-square with *v* degrees of freedom >= *x2*) (v even)."""
    m = x2 / 2.0
    term = math.exp(-m)
    total = term
    for i in range(1, v // 2):
        term *= m / i
        total += term
    return min(total, 1.0)


def combine(probs: List[float]) -> float:
    """Fisher/Robinson chi-square combining of per-token spam probabilities."""
    if not probs:
        return 0.5
    n = len(probs)
    ln_s = sum(math.log(1.0 - p) for p in probs)
    ln_h = sum(math.log(p) for p in probs)
    s = 1.0 - chi2q(-2.0 * ln_s, 2 * n)
    h = 1.0 - chi2q(-2.0 * ln_h, 2 * n)
    return (s - h + 1.0) / 2.0


class BayesStore:
    """A per-user token database (see the module docstring).

    *directory* ``None`` keeps everything in memory (tests, notebooks).
    """

    def __init__(self, directory: Optional[Union[str, Path]], *, autosave: bool = False) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else None
        self.autosave = autosave
        self.nspam = 0
        self.nham = 0
        self.tokens: Dict[str, List[int]] = {}        # token -> [spam count, ham count, atime]
        self.seen: Dict[str, str] = {}                # message id -> "s" or "h"
        self._probs: Dict[str, Optional[float]] = {}  # f(w) cache, emptied by any learning
        self._load()

    # -- files ------------------------------------------------------------
    @property
    def toks_path(self) -> Optional[Path]:
        """Where the token counts live (``bayes_toks.json``)."""
        return self.directory / "bayes_toks.json" if self.directory else None

    def _load(self) -> None:
        if not self.directory or not self.toks_path or not self.toks_path.exists():
            return
        data = json.loads(self.toks_path.read_text(encoding="utf-8"))
        self.nspam, self.nham = data.get("nspam", 0), data.get("nham", 0)
        self.tokens = data.get("tokens", {})
        seen = self.directory / "bayes_seen.json"
        if seen.exists():
            self.seen = json.loads(seen.read_text(encoding="utf-8"))

    def save(self) -> None:
        """Write both files (atomically: a crash never leaves half a database)."""
        if not self.directory:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, data in (("bayes_toks.json", {"version": 3, "nspam": self.nspam, "nham": self.nham,
                                           "tokens": self.tokens}),
                           ("bayes_seen.json", self.seen)):
            tmp = self.directory / f".{name}.tmp"
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.directory / name)

    # -- learning -----------------------------------------------------------
    @staticmethod
    def _view(msg: _MsgLike) -> MessageView:
        if isinstance(msg, MessageView):
            return msg
        # Like sa-learn, learn the message as it arrived, not SpamAssassin's report about it.
        from .markup import remove_markup
        return MessageView.parse(remove_markup(msg) if b"X-Spam-" in msg[:65536] else msg)

    @staticmethod
    def message_ids(view: MessageView) -> List[str]:
        """The keys of a message in ``bayes_seen``, as SpamAssassin's Bayes makes them.

        First ``sha1(To NUL Date NUL sha1(body))@sa_generated`` (so a resent
        copy with a new Message-ID is still the same message), then the
        Message-ID without its angle brackets, if it has one.
        """
        body = split_pristine(view.raw).body.replace(b"\r\n", b"\n")
        to = view.header("To", raw=True).split("\n")[-1]
        date = view.header("Date", raw=True).split("\n")[-1]
        generated = hashlib.sha1(b"\0".join([to.encode("utf-8", "replace"), date.encode("utf-8", "replace"),
                                              hashlib.sha1(body).hexdigest().encode()])).hexdigest()
        ids = [generated + "@sa_generated"]
        m = re.fullmatch(r"\s*<(.+)>\s*", view.header("Message-ID", raw=True).split("\n")[-1], re.S)
        if m:
            ids.append(m.group(1))
        return ids

    def message_id(self, view: MessageView) -> str:
        """The key a message is learnt under (see :meth:`message_ids`)."""
        return self.message_ids(view)[0]

    def _seen_as(self, view: MessageView) -> Tuple[Optional[str], Optional[str]]:
        for key in self.message_ids(view):
            if key in self.seen:
                return key, self.seen[key]
        return None, None

    def learn(self, msg: _MsgLike, *, spam: bool) -> bool:
        """Learn one message as spam or ham; False when it was learnt that way already.

        A message learnt the other way before is first forgotten (re-learning
        a mistake is how users correct Bayes).
        """
        view = self._view(msg)
        mid = self.message_id(view)
        kind = "s" if spam else "h"
        _, seen = self._seen_as(view)
        if seen == kind:
            return False                # learnt already (under either key)
        if seen is not None:
            self.forget(view)
        self._probs.clear()
        now = _message_time(view)
        col = 0 if spam else 1
        for tok in tokenize(view):
            entry = self.tokens.setdefault(tok, [0, 0, now])
            entry[col] += 1
            entry[2] = now
        if spam:
            self.nspam += 1
        else:
            self.nham += 1
        self.seen[mid] = kind
        if self.autosave:
            self.save()
        return True

    def forget(self, msg: _MsgLike) -> bool:
        """Undo the learning of one message (``sa-learn --forget``)."""
        view = self._view(msg)
        mid, _ = self._seen_as(view)
        if mid is None:
            return False
        kind = self.seen.pop(mid)
        self._probs.clear()
        col = 0 if kind == "s" else 1
        for tok in tokenize(view):
            entry = self.tokens.get(tok)
            if entry:
                entry[col] = max(0, entry[col] - 1)
                if entry[0] == entry[1] == 0:
                    del self.tokens[tok]
        if kind == "s":
            self.nspam = max(0, self.nspam - 1)
        else:
            self.nham = max(0, self.nham - 1)
        if self.autosave:
            self.save()
        return True

    # -- judging ------------------------------------------------------------
    def token_probability(self, tok: str) -> Optional[float]:
        """Robinson's f(w) for one token, or None for a token never seen."""
        entry = self.tokens.get(tok)
        if not entry or not self.nspam or not self.nham:
            return None
        s, h = entry[0], entry[1]
        ratio_s, ratio_h = s / self.nspam, h / self.nham
        if ratio_s + ratio_h == 0:
            return None
        p = ratio_s / (ratio_s + ratio_h)
        n = s + h
        return (FW_S * FW_X + n * p) / (FW_S + n)

    def probability(self, msg: _MsgLike, config: object = None, *,
                    min_spam: Optional[int] = None, min_ham: Optional[int] = None) -> Optional[float]:
        """The spam probability of a message, or None while Bayes has learnt too little."""
        min_spam = min_spam if min_spam is not None else getattr(config, "bayes_min_spam_num", 200)
        min_ham = min_ham if min_ham is not None else getattr(config, "bayes_min_ham_num", 200)
        if self.nspam < min_spam or self.nham < min_ham:
            return None
        probs = []
        cache = self._probs
        for tok in tokenize(self._view(msg)):
            p = cache[tok] if tok in cache else cache.setdefault(tok, self.token_probability(tok))
            if p is not None and abs(p - 0.5) >= MIN_PROB_STRENGTH:
                probs.append(p)
        probs.sort(key=lambda p: -abs(p - 0.5))
        probs = [min(max(p, 1e-6), 1 - 1e-6) for p in probs[:N_SIGNIFICANT]]
        return combine(probs)

    def dump_magic(self) -> str:
        """``sa-learn --dump magic``: the database's counters, in sa-learn's layout."""
        atimes = [e[2] for e in self.tokens.values()]
        rows = [(3, "bayes db version"), (self.nspam, "nspam"), (self.nham, "nham"),
                (len(self.tokens), "ntokens"), (min(atimes, default=0), "oldest atime"),
                (max(atimes, default=0), "newest atime"), (0, "last journal sync atime"),
                (0, "last expiry atime"), (0, "last expire atime delta"), (0, "last expire reduction count")]
        return "".join(f"0.000 {0:>10} {n:>10} {0:>10}  non-token data: {what}\n" for n, what in rows)


def message_files(paths: Iterable[Union[str, Path]]) -> List[Path]:
    """Every message file under *paths* (files as given; directories recursively, dot-files skipped)."""
    files: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.is_file():
            files.append(p)
    return files


def learn_paths(store: BayesStore, paths: Iterable[Union[str, Path]], *, spam: Optional[bool],
                progress: Optional[Callable[[int, int], None]] = None) -> tuple:
    """Learn (or with ``spam=None`` forget) every message file under *paths*.

    Files, Maildir folders and directories are accepted. Calls
    ``progress(done, total)`` after each message (a notebook shows a bar, a
    terminal a counter). Returns (learned, examined).
    """
    files = message_files(paths)
    learned = 0
    for i, f in enumerate(files, 1):
        data = f.read_bytes()
        if store.forget(data) if spam is None else store.learn(data, spam=spam):
            learned += 1
        if progress:
            progress(i, len(files))
    return learned, len(files)

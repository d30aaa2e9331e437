"""Checks for lessons 07 (fighting spam) and 08 (RBLs at the door).

Each check raises :class:`~labmail.course.CheckFailed` with a hint, or
returns :class:`~labmail.course.Passed`.

>>> check_dnsbl_name("9.0.0.127.bl.lab.test", "127.0.0.9", "bl.lab.test")
Correct: 127.0.0.9 is looked up as 9.0.0.127.bl.lab.test (octets reversed, then the zone).
>>> check_threshold(4.3, [("ham", 4.2, "a"), ("spam", 9.0, "b")])
Correct: at required_score 4.3 no ham is marked as spam, and 1 of 1 spam messages are still caught.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from .course import CheckFailed, Passed

if TYPE_CHECKING:  # pragma: no cover
    from .host import Host

__all__ = ["CRUISE_SPAM", "CRUISE_HAM", "check_rule", "best_threshold", "check_threshold",
           "check_dnsbl_name", "check_rbl_warn_only"]

CRUISE_SPAM = (b"From: Holidays <win@prizes.example.net>\nTo: alice@example.com\n"
               b"Subject: You have been selected\n\nCongratulations! You won a FREE Cruise to the\n"
               b"Caribbean. Reply today.\n")
CRUISE_HAM = (b"From: Bob <bob@example.org>\nTo: alice@example.com\nSubject: car\n\n"
              b"The cruise control of the car is broken again; the garage says it is free\n"
              b"of charge under warranty.\n")


def check_rule(local_cf: Optional[str], name: str = "LAB_FREE_CRUISE", points: float = 2.5) -> Passed:
    """*local_cf* (text) defines a body rule *name* worth *points* that hits "free cruise" in any case."""
    from . import spam
    from .errors import ConfigError

    if not isinstance(local_cf, str) or not local_cf.strip():
        raise CheckFailed("Set local_cf to the text of your rule: a `body` line, a `score` line "
                          "and a `describe` line.")
    try:
        hit = spam.check(CRUISE_SPAM, local_cf)
        miss = spam.check(CRUISE_HAM, local_cf)
    except ConfigError as exc:
        raise CheckFailed(f"SpamAssassin does not accept the file: {exc}") from None
    rule = hit.config.rules.get(name) if hasattr(hit.config, "rules") else None
    if name not in hit.tests:
        if rule is None and f" {name} " not in f" {local_cf} ":
            raise CheckFailed(f"No rule named {name} in local_cf (names are case-sensitive).")
        raise CheckFailed(f"{name} does not hit 'won a FREE Cruise to the': is the regex case-insensitive "
                          "(/.../i)? Does it allow the space between the words?")
    score = next(h.score for h in hit.hits if h.name == name)
    if abs(score - points) > 1e-9:
        raise CheckFailed(f"{name} hits, but scores {score:g}: add `score {name} {points:g}`.")
    if name in miss.tests:
        raise CheckFailed(f"{name} also hits Bob's mail about cruise control ('it is free of charge'): "
                          "match the two words together, e.g. /free\\s+cruise/i.")
    return Passed(f"Correct: {name} adds {points:g} points to the prize mail and nothing to Bob's.")


Scored = Tuple[str, float, str]


def best_threshold(scores: Sequence[Scored]) -> float:
    """The lowest required_score (one decimal) at which no ham is marked as spam."""
    top_ham = max((s for label, s, _ in scores if label == "ham"), default=-math.inf)
    if top_ham == -math.inf:
        return 0.0
    return round(math.floor(top_ham * 10 + 1e-9) / 10 + 0.1, 1)


def check_threshold(threshold: object, scores: Sequence[Scored]) -> Passed:
    """*threshold* is :func:`best_threshold` of *scores* (a message is spam when score >= threshold)."""
    if not isinstance(threshold, (int, float)):
        raise CheckFailed("Set threshold to a number such as 5.0.")
    best = best_threshold(scores)
    ham_marked = [n for label, s, n in scores if label == "ham" and s >= threshold]
    if ham_marked:
        raise CheckFailed(f"At {threshold} still {len(ham_marked)} ham message(s) are marked as spam "
                          f"(e.g. {ham_marked[0]}): go higher.")
    spam_total = sum(1 for label, _, _ in scores if label == "spam")
    caught = sum(1 for label, s, _ in scores if label == "spam" and s >= threshold)
    if abs(threshold - best) > 1e-6:
        better = sum(1 for label, s, _ in scores if label == "spam" and s >= best)
        raise CheckFailed(f"No ham is marked at {threshold}, but a lower value also keeps all ham: "
                          f"it would catch {better - caught} more spam. Look at the highest ham score.")
    return Passed(f"Correct: at required_score {best:.1f} no ham is marked as spam, and {caught} of "
                  f"{spam_total} spam messages are still caught.")


def check_dnsbl_name(answer: object, ip: str, zone: str) -> Passed:
    """*answer* is the DNSBL query name of *ip* in *zone* (RFC 5782 §2.1), with or without the final dot."""
    expected = ".".join(reversed(ip.split("."))) + "." + zone.rstrip(".")
    if not isinstance(answer, str) or not answer:
        raise CheckFailed("Set query_name to a string: the four numbers of the address, then the zone.")
    got = answer.strip().rstrip(".").lower()
    if got == expected:
        return Passed(f"Correct: {ip} is looked up as {expected} (octets reversed, then the zone).")
    if got == ip + "." + zone.rstrip("."):
        raise CheckFailed("Almost: the octets go in reverse order, as in in-addr.arpa names.")
    if got == ".".join(reversed(ip.split("."))):
        raise CheckFailed(f"The reversed address is right; now append the zone {zone}.")
    raise CheckFailed(f"Not yet: '{answer}'. Reverse the four numbers of {ip} and append {zone}.")


def check_rbl_warn_only(host: "Host", zone: str = "bl.lab.test", stranger: str = "127.0.0.9") -> Passed:
    """The RBL runs in test mode: the listed *stranger* is accepted, and a reject_warning is logged."""
    from .notebook import Telnet

    before = host.maillog.path.read_text() if host.maillog.path.exists() else ""
    with Telnet(host.endpoints["smtp"], source=(stranger, 0)) as t:
        t.talk("EHLO stranger.example.net", "MAIL FROM:<offers@example.net>")
        local = t.send("RCPT TO:<alice@mail.example.com>")
        outside = t.send("RCPT TO:<victim@example.org>")
        t.send("QUIT")
    log = host.maillog.path.read_text()[len(before):]
    if local.code != 250:
        if zone in local.last:
            raise CheckFailed(f"The stranger is still refused ({local.last}). Put warn_if_reject right "
                              "before reject_rbl_client, then check and reload.")
        raise CheckFailed(f"Alice's mail is refused: {local.last}")
    if outside.code == 250:
        raise CheckFailed("Careful: the stranger may now relay to example.org. Keep "
                          "reject_unauth_destination in the list (warn_if_reject changes only the NEXT "
                          "restriction).")
    if "reject_warning:" not in log or zone not in log:
        raise CheckFailed(f"The stranger gets through, but nothing was logged: is reject_rbl_client {zone} "
                          "still in smtpd_recipient_restrictions, after warn_if_reject?")
    return Passed("Correct: the stranger is accepted, and the log says what the RBL would have refused.")

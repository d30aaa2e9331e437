"""Compose the course's labelled corpus from the building blocks in ``blocks.py``.

    python -m labmail.data.corpus.generate          # rewrites spam/ and ham/

The output is committed; this script documents how it was made and can make
it again (seeded, so the same files come out). Every message is a complete
RFC 5322 message as a mail server would store it after delivery: Received
headers, MIME structure (plain, HTML, multipart/alternative, attachments),
several languages and charsets.
"""
from __future__ import annotations

import email.policy
import email.utils
import random
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Dict, List, Tuple

try:
    from . import blocks as B
except ImportError:  # run as a script
    sys.path.insert(0, str(Path(__file__).parent))
    import blocks as B  # type: ignore[no-redef]

HERE = Path(__file__).parent
RECIPIENTS = ["bob@example.com", "alice@example.com", "carol@example.com", "dave@example.com"]
POLICY = email.policy.default.clone(linesep="\n", max_line_length=78)
SPAM_COUNTS = {"pharma": 22, "lottery": 18, "advance_fee": 18, "phishing": 28, "crypto": 18, "dating": 14,
               "replica": 12, "seo": 16, "loan": 14, "work_home": 12, "weight": 12, "parcel": 16,
               "ceo_fraud": 10, "malware": 14, "de": 6, "fr": 5, "es": 5}
HAM_COUNTS = {"personal": 36, "work": 30, "dev": 20, "newsletter": 24, "receipt": 20, "shipping": 12,
              "security_notice": 10, "list": 22, "school": 10, "bank": 12, "shop_promo": 12, "de": 10, "fr": 8,
              "es": 8, "ja": 5, "ru": 5}
HTML_SPAM = {"pharma", "phishing", "crypto", "replica", "loan", "weight", "parcel", "de", "fr", "es"}
LINK_SPAM = HTML_SPAM | {"lottery", "dating", "work_home", "seo"}


def ascii_name(name: str) -> str:
    """An address-safe spelling of a name (García -> garcia, O'Neill -> oneill)."""
    return "".join(c for c in unicodedata.normalize("NFKD", name.lower()) if c.isascii() and c.isalnum())


class Composer:
    """Builds one message at a time from a seeded random generator."""

    def __init__(self, seed: int = 7) -> None:
        self.rnd = random.Random(seed)
        self.when = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)

    def pick(self, seq):
        return self.rnd.choice(seq)

    def fill(self, text: str, ctx: Dict[str, str]) -> str:
        return text.format(**ctx)

    def context(self) -> Dict[str, str]:
        r = self.rnd
        return {"first": self.pick(B.FIRST), "last": self.pick(B.LAST), "other": self.pick(B.FIRST),
                "to_first": self.pick(B.FIRST), "day": self.pick(B.DAYS), "month": self.pick(B.MONTHS),
                "n": str(r.randint(10, 999)), "num": f"{r.randint(10**9, 10**10 - 1)}",
                "num2": f"{r.choice('ABCDEFGH')}{r.randint(1000, 9999)}", "price": f"{r.randint(5, 480)}.{r.randint(0, 99):02d}",
                "last4": f"{r.randint(0, 9999):04d}", "site": self.pick(B.HAM_DOMAINS)}

    def tick(self) -> datetime:
        self.when += timedelta(minutes=self.rnd.randint(7, 300))
        return self.when

    def received(self, relays: List[Tuple[str, str, str]], to: str, date: datetime) -> str:
        # Newest first, as each server prepends its own line (RFC 5321 section 4.4).
        hop = date + timedelta(seconds=self.rnd.randint(2, 40))
        lines = []
        for helo, rdns, ip in relays:
            qid = f"{self.rnd.getrandbits(44):011X}"
            lines.append(f"from {helo} ({rdns} [{ip}])\n\tby mx.example.com (Postfix) with ESMTP id {qid}\n"
                         f"\tfor <{to}>; {email.utils.format_datetime(hop)}")
            hop -= timedelta(seconds=self.rnd.randint(1, 20))
        return "".join(f"Received: {line}\n" for line in lines)

    # ------------------------------------------------------------------ spam
    def spam(self, cat: str) -> bytes:
        r, pool, ctx = self.rnd, B.SPAM[cat], self.context()
        date = self.tick()
        to = self.pick(RECIPIENTS)
        msg = EmailMessage(policy=POLICY)
        helo, ip = self.pick(B.SPAM_RELAYS)
        rdns = "unknown" if helo in ("unknown",) or helo.startswith("[") else helo
        helo = helo if helo != "unknown" else self.pick(["User", "localhost", "win-pc", ip, "mail"])
        if cat == "ceo_fraud" or r.random() < 0.2:       # a hijacked account on a real provider
            helo, ip = self.pick(B.HAM_RELAYS)
            rdns = helo
        trace = self.received([(helo, rdns, ip)], to, date)
        dom = self.pick(B.SPAM_DOMAINS)
        local = self.pick(["info", "support", "promo", "news", "service", f"{ascii_name(ctx['first'])}{r.randint(100, 9999)}",
                           "noreply", "winner", "security", "billing"])
        name = {"phishing": self.pick(["Security Team", "Account Service", "Billing Department", "Online Banking"]),
                "ceo_fraud": f"{ctx['first']} {ctx['last']}", "parcel": "Parcel Service"}.get(
                    cat, self.pick([f"{ctx['first']} {ctx['last']}", "Customer Care", "Special Offers", ctx["first"]]))
        if cat == "ceo_fraud":
            dom = self.pick(["gmail.com", "outlook.com"])
        msg["From"] = f'"{name}" <{local}@{dom}>'
        msg["To"] = "undisclosed-recipients:;" if r.random() < 0.2 else to
        msg["Subject"] = self.fill(self.pick(pool["subjects"]), ctx)
        if r.random() < 0.85:
            msg["Date"] = email.utils.format_datetime(date)
        if r.random() < 0.8:
            msg["Message-ID"] = self.pick([f"<{r.getrandbits(64):x}@{dom}>", f"<{r.getrandbits(32):x}@localhost>",
                                           f"<{r.getrandbits(48):X}>"])
        if cat in ("advance_fee", "lottery") or r.random() < 0.15:
            msg["Reply-To"] = f"{ascii_name(ctx['last'])}.claims@{self.pick(['yahoo.com', 'gmail.com', 'outlook.com'])}"
        if r.random() < 0.3:
            msg["X-Mailer"] = self.pick(B.BULK_MAILERS)
        if r.random() < 0.25:
            msg["X-Priority"] = "1 (Highest)"
        lines = [self.fill(l, ctx) for l in r.sample(pool["lines"], k=min(len(pool["lines"]), r.randint(3, 6)))]
        greet = self.pick(["Dear Customer,", "Dear friend,", "Hello,", "Dear user,", "Hi,", "Dear valued member,", ""])
        if cat in ("de", "fr", "es"):
            greet = {"de": "Hallo,", "fr": "Bonjour,", "es": "Hola,"}[cat]
        url = ""
        if cat in LINK_SPAM:
            url = f"http://{self.pick(B.SPAM_URL_HOSTS)}/{self.pick(['claim', 'offer', 'login', 'verify', 'shop', 'r'])}?id={r.getrandbits(32):x}"
        text = "\n\n".join(x for x in [greet, "\n".join(lines), url,
                                        self.pick(["", "To be removed from our list reply with REMOVE.",
                                                   "Unsubscribe: reply with the word STOP"])] if x) + "\n"
        if cat in HTML_SPAM and r.random() < 0.85:
            html = self.spam_html(lines, url, greet)
            if r.random() < 0.5:
                msg.set_content(html, subtype="html", cte=self.pick(["quoted-printable", "base64", "7bit"]) if html.isascii() else "base64")
            else:
                msg.set_content(text)
                msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(text, cte="base64" if r.random() < 0.15 else None)
        if cat == "malware":
            ext = self.pick(["zip", "exe", "js", "scr", "zip"])
            payload = bytes(r.getrandbits(8) for _ in range(r.randint(300, 900)))
            msg.add_attachment(payload, maintype="application", subtype="octet-stream",
                               filename=f"invoice_{ctx['num'][:6]}.{ext}")
        return trace.encode() + msg.as_bytes(policy=POLICY)

    def spam_html(self, lines: List[str], url: str, greet: str) -> str:
        r = self.rnd
        style = self.pick(['<font color="#ff0000" size="6">', '<span style="font-size:22px;color:red">',
                           '<b>', '<h1>'])
        end = {"<font": "</font>", "<span": "</span>", "<b>": "</b>", "<h1>": "</h1>"}[style[:5] if style.startswith(("<font", "<span")) else style]
        parts = [f"<html><body>", f"<p>{greet}</p>" if greet else "", f"<p>{style}{lines[0]}{end}</p>"]
        parts += [f"<p>{l}</p>" for l in lines[1:]]
        if url:
            parts.append(f'<p><a href="{url}">{self.pick(["Click here", "CLAIM NOW", "Verify now", "Order now", "Learn more"])}</a></p>')
        if r.random() < 0.3:
            parts.append(f'<img src="http://{self.pick(B.SPAM_URL_HOSTS)}/banner{r.randint(1, 9)}.jpg" width="600">')
        if r.random() < 0.3:
            parts.append('<p style="font-size:1px;color:#ffffff">' + " ".join(
                self.pick(["weather", "garden", "history", "river", "music", "table"]) for _ in range(12)) + "</p>")
        if r.random() < 0.15:
            parts.append('<form action="http://198.51.100.77/login.php" method="post">'
                         '<input name="user"><input type="password" name="pass"></form>')
        parts.append("</body></html>")
        return "\n".join(p for p in parts if p) + "\n"

    # ------------------------------------------------------------------ ham
    def ham(self, cat: str) -> bytes:
        r, pool, ctx = self.rnd, B.HAM[cat], self.context()
        date = self.tick()
        to = self.pick(RECIPIENTS)
        ctx["to_first"] = to.split("@")[0].capitalize()
        msg = EmailMessage(policy=POLICY)
        rdns, ip = self.pick(B.HAM_RELAYS)
        relays = [(rdns, rdns, ip)]
        if r.random() < 0.08:                            # a small office server without reverse DNS
            relays = [(f"office.{rdns.split('.', 1)[1]}", "unknown", f"203.0.113.{r.randint(2, 120)}")]
        if r.random() < 0.4:
            relays.append((f"client{r.randint(2, 90)}.{rdns.split('.', 1)[1]}", f"client.{rdns.split('.', 1)[1]}",
                           f"10.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(2, 200)}"))
        trace = self.received(relays, to, date)
        dom = rdns.split(".", 1)[1]
        sender_first, sender_last = ctx["first"], ctx["last"]
        automated = cat in ("newsletter", "receipt", "shipping", "security_notice", "bank", "dev", "shop_promo")
        if automated:
            org = {"newsletter": "Community News", "receipt": "Rose Bakery Shop", "shipping": "Northwind Shipping",
                   "security_notice": "Example Accounts", "bank": "Example Savings Bank", "dev": "OpenProject",
                   "shop_promo": "Rose Bakery & Coffee"}[cat]
            msg["From"] = f'"{org}" <{self.pick(["news", "no-reply", "notifications", "service"])}@{dom}>'
        else:
            msg["From"] = f"{sender_first} {sender_last} <{ascii_name(sender_first)}.{ascii_name(sender_last)}@{dom}>"
        msg["To"] = to
        if r.random() < 0.15 and not automated:
            msg["Cc"] = f"{self.pick(B.FIRST).lower()}@{self.pick(B.HAM_DOMAINS)}"
        subject = self.fill(self.pick(pool["subjects"]), ctx)
        is_reply = subject.startswith("Re:") or (not automated and r.random() < 0.25)
        if is_reply and not subject.startswith("Re:"):
            subject = "Re: " + subject
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(date)
        msg["Message-ID"] = f"<{date.strftime('%Y%m%d%H%M%S')}.{r.getrandbits(40):x}@{dom}>"
        if is_reply:
            ref = f"<{(date - timedelta(hours=5)).strftime('%Y%m%d%H%M%S')}.{r.getrandbits(40):x}@example.com>"
            msg["In-Reply-To"] = ref
            msg["References"] = ref
        if cat in ("list", "newsletter", "dev", "shop_promo"):
            lid = {"list": "users.lists.example.org", "newsletter": "news.example.org", "dev": "core.openproject.example",
                   "shop_promo": "club.bakery-rose.example"}[cat]
            msg["List-Id"] = f"<{lid}>"
            msg["List-Unsubscribe"] = f"<mailto:{lid.split('.')[0]}-leave@{dom}>"
        mailer = self.pick(B.HAM_MAILERS)
        if mailer and not automated:
            msg["User-Agent"] = mailer
        lines = [self.fill(l, ctx) for l in r.sample(pool["lines"], k=min(len(pool["lines"]), r.randint(2, 5)))]
        body = "\n\n".join(lines)
        if not automated:
            body = f"{self.pick(['Hi', 'Hello', 'Hey', 'Dear'])} {ctx['to_first']},\n\n" + body if cat not in ("de", "fr", "es", "ja", "ru") else body
            body += f"\n\n{self.pick(['Cheers', 'Best', 'Thanks', 'See you', 'Regards'])},\n{sender_first}\n" if cat not in ("de", "fr", "es", "ja", "ru") else f"\n\n{sender_first}\n"
        if is_reply:
            body += "\n" + "\n".join("> " + q for q in self.fill(self.pick(pool["lines"]), ctx).split("\n")) + "\n"
        link = f"https://www.{dom}/{self.pick(['news', 'account', 'orders', 'events', 'pull'])}/{r.randint(100, 9999)}"
        if automated:
            body += f"\n\n{link}\n"
        if cat in ("newsletter", "shop_promo") or (automated and r.random() < 0.5):
            msg.set_content(body + ("\n--\nUnsubscribe: " + link + "/unsubscribe\n" if cat == "newsletter" else ""))
            html = "<html><body>" + "".join(f"<p>{l}</p>" for l in body.split("\n\n")) + \
                   f'<p><a href="{link}">{self.pick(["Read more", "View online", "Open"])}</a></p></body></html>\n'
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(body)
        if cat in ("receipt", "work") and r.random() < 0.4:
            pdf = b"%PDF-1.4\n% labmail sample\n" + bytes(r.getrandbits(8) for _ in range(r.randint(400, 1200))) + b"\n%%EOF\n"
            msg.add_attachment(pdf, maintype="application", subtype="pdf",
                               filename=self.pick(["invoice.pdf", "slides.pdf", "notes.pdf", "receipt.pdf"]))
        elif cat in ("work", "school", "personal") and r.random() < 0.15:
            ics = ("BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nSUMMARY:" + subject[:40] +
                   f"\nDTSTART:{date.strftime('%Y%m%dT%H%M%SZ')}\nEND:VEVENT\nEND:VCALENDAR\n")
            msg.add_attachment(ics, subtype="calendar", filename="invite.ics")
        return trace.encode() + msg.as_bytes(policy=POLICY)


def build(out: Path = HERE, seed: int = 7) -> Tuple[int, int]:
    """Write spam/NNN-category.eml and ham/NNN-category.eml under *out*."""
    c = Composer(seed)
    jobs = [("spam", cat) for cat, n in SPAM_COUNTS.items() for _ in range(n)] + \
           [("ham", cat) for cat, n in HAM_COUNTS.items() for _ in range(n)]
    c.rnd.shuffle(jobs)
    counters = {"spam": 0, "ham": 0}
    for kind in counters:
        d = out / kind
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.eml"):
            old.unlink()
    for kind, cat in jobs:
        counters[kind] += 1
        data = c.spam(cat) if kind == "spam" else c.ham(cat)
        (out / kind / f"{counters[kind]:03d}-{cat.replace('_', '-')}.eml").write_bytes(data)
    return counters["spam"], counters["ham"]


if __name__ == "__main__":
    print("spam %d, ham %d" % build())

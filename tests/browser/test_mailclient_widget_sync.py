"""The mail client widget acts for the account it shows (headless; the browser test's companion).

Lesson 01 draws ``mua.widget()`` while Bob's account is selected, then a later
cell calls ``mua.use("alice@example.com")``.  A student who then types into the
widget sees Bob's account in its drop-down, so that is who sends and whose
folders "get mail" lists.
"""
from __future__ import annotations

from labmail.notebook import MailClient

from conftest import wait_for


def _walk(widget):
    stack = [widget]
    while stack:
        w = stack.pop(0)
        yield w
        stack[0:0] = list(getattr(w, "children", ()))


def _find(widget, cls_name, description=None):
    for w in _walk(widget):
        if type(w).__name__ == cls_name and (description is None
                                            or getattr(w, "description", None) == description):
            return w
    raise LookupError(f"no {cls_name} {description or ''}")


def test_widget_sends_and_lists_for_the_account_it_shows(host):
    mua = MailClient(host, "alice", "secret")
    mua.add_account(host, "bob", "hunter2")
    w = mua.widget()
    assert "labmail-mailclient" in w._dom_classes
    assert _find(w, "Dropdown", "account").value == 0          # Alice, as drawn
    mua.use("bob@example.com")                                 # a later cell switches the client

    _find(w, "Text", "To").value = "alice@example.com"
    _find(w, "Text", "Subject").value = "Sent from the widget"
    _find(w, "Textarea", "Body").value = "Shown as Alice, sent as Alice."
    _find(w, "Button", "send").click()
    host.settle()

    got = [m for m in host.mailbox("alice") if m["Subject"] == "Sent from the widget"]
    assert [m["From"] for m in got] == ["alice@example.com"]
    assert mua.account.user == "alice"

    listing = [x for x in _walk(w) if type(x).__name__ == "Select"
               and x.description != "folders"][0]
    _find(w, "Button", "get mail").click()
    wait_for(lambda: any("Sent from the widget" in label for label, _uid in listing.options))
    assert any("Sent from the widget" in label for label, _uid in listing.options)

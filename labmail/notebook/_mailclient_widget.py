"""The ipywidgets face of :class:`~labmail.notebook.mailclient.MailClient` (imported lazily)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

from ._ui import esc, ipywidgets, pre

if TYPE_CHECKING:  # pragma: no cover
    from .mailclient import MailClient


def build(client: "MailClient") -> Any:
    """Accounts, folders and messages on the left; the message and compose on the right."""
    w = ipywidgets()
    # Narrow labels and relative widths: the default 148 px label plus a 300 px
    # control overflow the left column, and the browser draws scroll bars.
    narrow = {"description_width": "60px"}
    account = w.Dropdown(options=[(str(a), i) for i, a in enumerate(client.accounts)],
                         value=client.current, description="account", style=narrow,
                         layout=w.Layout(width="95%"))
    folders = w.Select(options=[], rows=6, description="folders", style=narrow,
                       layout=w.Layout(width="95%"))
    listing = w.Select(options=[], rows=8, layout=w.Layout(width="97%"))
    view = w.ToggleButtons(options=["headers", "raw", "mime"], value="headers",
                           style={"button_width": "80px"})
    reading = w.HTML("<i>select a message</i>")
    refresh = w.Button(description="get mail", icon="refresh")
    to = w.Text(description="To", placeholder="bob@example.com")
    subject = w.Text(description="Subject")
    body = w.Textarea(description="Body", layout=w.Layout(width="97%", height="120px"))
    send = w.Button(description="send", button_style="primary", icon="paper-plane")
    status = w.HTML("")

    def say(lines: List[str]) -> None:
        status.value = pre("\n".join(lines[-3:]), "color:#555;white-space:pre-wrap")

    def sync(folder: bool = True) -> None:
        # The buttons act for the account and folder the widget shows, even when
        # a later cell switched the client (mua.use(...)) after it was drawn.
        if client.current != account.value:
            client.current = account.value
        if folder and folders.value:
            client.folder = folders.value

    def load_folders() -> None:
        sync(folder=False)
        try:
            names = client.folders()
        except Exception as exc:                      # shown, not raised: it is a widget
            say([f"cannot list folders: {exc}"])
            return
        folders.options = names
        folders.value = client.folder if client.folder in names else (names[0] if names else None)

    def load_messages(_change: Any = None) -> None:
        sync()
        try:
            items = client.messages()
        except Exception as exc:
            say([f"cannot read {client.folder}: {exc}"])
            return
        listing.options = [(f"{'  ' if chr(92) + 'Seen' in s.flags else '● '}{s.date}  "
                            f"{s.sender[:30]:<30}  {s.subject}", s.uid) for s in items]
        reading.value = "<i>select a message</i>"

    def read(_change: Any = None) -> None:
        if listing.value is None:
            return
        sync()
        try:
            text = client.show(listing.value, view.value)
        except Exception as exc:
            say([f"cannot fetch: {exc}"])
            return
        reading.value = pre(text, "white-space:pre-wrap;font-size:90%")

    def switch(_change: Any) -> None:
        client.use(account.value)
        load_folders()
        load_messages()

    def do_send(_b: Any) -> None:
        sync()
        try:
            refused = client.send(to.value, subject.value, body.value)
        except Exception as exc:
            say(client.log + [f"not sent: {exc}"])
            return
        extra = [f"refused: {esc(refused)}"] if refused else []
        say(client.log + extra)
        subject.value = body.value = ""
        load_messages()

    account.observe(switch, names="value")
    folders.observe(load_messages, names="value")
    listing.observe(read, names="value")
    view.observe(read, names="value")
    def get_mail(_b: Any) -> None:
        load_folders()
        load_messages()

    refresh.on_click(get_mail)
    send.on_click(do_send)
    load_folders()
    load_messages()
    left = w.VBox([account, refresh, folders], layout=w.Layout(width="36%"))
    right = w.VBox([listing, view, reading], layout=w.Layout(width="64%"))
    compose = w.VBox([w.HTML("<b>New message</b>"), to, subject, body, send, status])
    root = w.VBox([w.HBox([left, right]), compose])
    root.add_class("labmail-mailclient")          # a handle for CSS and the browser test
    return root

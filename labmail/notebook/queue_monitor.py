"""A queue monitor: ``mailq`` live, with flush, hold, release and delete, and a sparkline.

The text form is exactly ``mailq``'s output; :func:`sparkline` draws the
history of the queue size in one line of block characters, so it reads the
same in a terminal, on GitHub and under nbval.  The buttons do what the
administrator's commands do: ``postqueue -f`` (flush), ``postsuper -h``
(hold), ``postsuper -H`` (release), ``postsuper -d`` (delete).

>>> sparkline([0, 1, 3, 7, 3, 0])
'▁▂▄█▄▁'
>>> sparkline([])
''
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

from ..mta.mailq import postsuper
from ._ui import Tool, esc, html_table, ipywidgets, pre

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["sparkline", "queue_html", "QueueMonitor", "ACTIONS"]

_BLOCKS = "▁▂▃▄▅▆▇█"
#: button name -> postsuper flag
ACTIONS = {"hold": "-h", "release": "-H", "delete": "-d", "requeue": "-r"}


def sparkline(values: Sequence[float]) -> str:
    """One block character per value, scaled from 0 to the largest value."""
    if not values:
        return ""
    top = max(values) or 1
    return "".join(_BLOCKS[min(len(_BLOCKS) - 1, int(v / top * (len(_BLOCKS) - 1) + 0.5))]
                   for v in values)


def queue_html(table: List[Dict[str, object]], history: Sequence[int] = ()) -> str:
    """The queue as an HTML table (held mail grey, deferred amber) and the sparkline."""
    rows, styles = [], []
    for e in table:
        mark = {"hold": "!", "active": "*"}.get(str(e["queue"]), "")
        rows.append([f"{e['queue_id']}{mark}", e["queue"], e["size"], e["sender"],
                     ", ".join(map(str, e["recipients"])),  # type: ignore[call-overload]
                     e.get("reason") or ""])
        styles.append({"hold": "color:#777", "deferred": "color:#9a6400"}.get(str(e["queue"]), ""))
    head = f"<div><b>{len(table)} message(s) queued</b>"
    if history:
        head += f" &nbsp; size over time: <span style='font-size:130%'>{esc(sparkline(history))}</span>"
    head += "</div>"
    if not table:
        return head + "<div>Mail queue is empty</div>"
    return head + html_table(["queue id", "queue", "size", "sender", "recipients", "reason"],
                             rows, styles)


class QueueMonitor(Tool):
    """A host's queue: ``mailq`` text, a table, actions and the size history.

    >>> mon = QueueMonitor(host)                                   # doctest: +SKIP
    >>> mon                      # mailq's output                     # doctest: +SKIP
    >>> mon.hold("ABC123"); mon.release("ABC123"); mon.flush()      # doctest: +SKIP
    >>> mon.widget()             # buttons, a live table (every 2 s)  # doctest: +SKIP
    """

    def __init__(self, host: "Host", history: int = 40) -> None:
        self.host = host
        self.history: List[int] = []
        self.keep = history
        self.messages: List[str] = []
        self._stop: Optional[threading.Event] = None

    def sample(self) -> int:
        """Record the queue size now (one point of the sparkline); returns it."""
        size = len(self.host.queue.entries())
        self.history = (self.history + [size])[-self.keep:]
        return size

    def text(self) -> str:
        return self.host.mailq()

    def html(self) -> str:
        self.sample()
        return queue_html(self.host.queue.table(), self.history) + \
            (pre("\n".join(self.messages[-5:]), "color:#555") if self.messages else "")

    # -- the administrator's commands ----------------------------------------------
    def _postsuper(self, flag: str, ids: Sequence[str]) -> List[str]:
        lines = postsuper(self.host.queue, flag, list(ids), maillog=self.host.maillog)
        self.messages += [f"postsuper: {ln}" for ln in lines]
        return lines

    def hold(self, *ids: str) -> List[str]:
        """``postsuper -h``: keep these messages (or ``"ALL"``) from delivery."""
        return self._postsuper("-h", ids)

    def release(self, *ids: str) -> List[str]:
        """``postsuper -H``: release held messages."""
        return self._postsuper("-H", ids)

    def delete(self, *ids: str) -> List[str]:
        """``postsuper -d``: remove messages from the queue for good."""
        return self._postsuper("-d", ids)

    def flush(self) -> int:
        """``postqueue -f``: try deferred mail now; returns how many were tried."""
        n = self.host.flush()
        self.messages.append(f"postqueue -f: {n} message(s) tried")
        return n

    # -- the widget -------------------------------------------------------------------
    def widget(self, interval: float = 2.0) -> Any:
        """The live monitor; it refreshes every *interval* s until ``stop()``."""
        w = ipywidgets()
        pane = w.HTML(self.html())
        pick = w.SelectMultiple(options=self._ids(), description="queue ids", rows=5)
        buttons = {name: w.Button(description=name) for name in
                   ("refresh", "flush", "hold", "release", "delete")}
        buttons["delete"].button_style = "danger"

        def refresh(_b: Any = None) -> None:
            pane.value = self.html()
            keep = [i for i in pick.value if i in self._ids()]
            pick.options = self._ids()
            pick.value = tuple(keep)

        def act(name: str) -> Any:
            def run(_b: Any) -> None:
                try:
                    if name == "flush":
                        self.flush()
                    elif pick.value:
                        getattr(self, name)(*pick.value)
                    else:
                        self.messages.append(f"{name}: select queue ids first")
                except Exception as exc:               # shown to the student, not raised
                    self.messages.append(f"{name}: {exc}")
                refresh()
            return run

        buttons["refresh"].on_click(refresh)
        for name in ("flush", "hold", "release", "delete"):
            buttons[name].on_click(act(name))
        self.stop()
        self._stop = stop = threading.Event()

        def tick() -> None:
            for _ in range(100000):                    # bounded: about 2.5 days at 2 s
                if stop.wait(interval):
                    return
                try:
                    refresh()
                except Exception:                      # a file moved under us, or the lab stopped
                    if not self.host.lab.running:
                        return
        threading.Thread(target=tick, name="labmail-queue-monitor", daemon=True).start()
        return w.VBox([w.HBox(list(buttons.values())), pick, pane])

    def _ids(self) -> List[str]:
        return [str(e["queue_id"]) for e in self.host.queue.table()]

    def stop(self) -> None:
        """Stop the widget's automatic refresh."""
        if self._stop is not None:
            self._stop.set()
            self._stop = None

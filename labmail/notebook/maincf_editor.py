"""A ``main.cf`` editor: edit, check (``postfix check``), save, reload (``postfix reload``).

The editor works on a draft.  :meth:`MainCfEditor.check` runs the lab's
``postfix check`` on the draft and lists every problem as ``file, line N:
...``; :meth:`~MainCfEditor.save` writes the draft to the host's
``/etc/postfix/main.cf``; :meth:`~MainCfEditor.reload` makes the running
server read it, and refuses (keeping the old settings, as Postfix does) when
the file has errors.  :func:`numbered` and :func:`editor_html` are the pure
renderings: the file with line numbers, problem lines marked.

>>> print(numbered("myhostname = mail.example.com\\nmynetworks = 127.0.0.1/33", {2: ["bad network"]}))
   1  myhostname = mail.example.com
   2  mynetworks = 127.0.0.1/33
      ^^^ bad network
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from ..errors import ConfigError
from ..mta.check import CheckResult, check_text
from ._ui import Tool, esc, ipywidgets

if TYPE_CHECKING:  # pragma: no cover
    from ..host import Host

__all__ = ["MAIN_CF", "numbered", "editor_html", "problems_by_line", "MainCfEditor"]

MAIN_CF = "/etc/postfix/main.cf"


def problems_by_line(result: CheckResult) -> Dict[int, List[str]]:
    """Each problem's message under its line number (0 for problems without a line)."""
    out: Dict[int, List[str]] = {}
    for p in result.problems:
        tag = "warning: " if p.severity == "warning" else ""
        out.setdefault(p.line or 0, []).append(tag + p.message)
    return out


def numbered(text: str, problems: Optional[Dict[int, List[str]]] = None) -> str:
    """*text* with line numbers; each problem under its line, after ``^^^``."""
    problems = problems or {}
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        rows.append(f"{n:>4}  {line}")
        rows += [f"      ^^^ {msg}" for msg in problems.get(n, [])]
    rows += [f"      (no line) {msg}" for msg in problems.get(0, [])]
    return "\n".join(rows)


def editor_html(text: str, problems: Optional[Dict[int, List[str]]] = None) -> str:
    """The file with line numbers; lines with errors red, with warnings amber."""
    problems = problems or {}
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        msgs = problems.get(n, [])
        colour = ("#fadbd8" if any(not m.startswith("warning") for m in msgs)
                  else "#fdebd0" if msgs else "transparent")
        rows.append(f"<div style='background:{colour}'><span style='color:#999'>{n:>4}</span>"
                    f"  {esc(line)}</div>")
        rows += [f"<div style='color:#b03a2e'>      ^^^ {esc(m)}</div>" for m in msgs]
    return ("<div style='font-family:monospace;white-space:pre'>" + "".join(rows) + "</div>")


class MainCfEditor(Tool):
    """Edit a host's ``main.cf`` like an administrator: draft, check, save, reload.

    >>> ed = MainCfEditor(host)                                     # doctest: +SKIP
    >>> ed.set("mynetworks", "127.0.0.1/32")                         # doctest: +SKIP
    >>> print(ed.check_text()); ed.save(); ed.reload()              # doctest: +SKIP
    """

    def __init__(self, host: "Host") -> None:
        self.host = host
        self.path = host.path(MAIN_CF)
        self.draft = self.path.read_text(encoding="utf-8")
        self.log: List[str] = []

    # -- the draft ------------------------------------------------------------
    def set(self, name: str, value: str) -> None:
        """Set ``name = value`` in the draft (``postconf -e`` on the draft)."""
        lines = self.draft.splitlines()
        for i, line in enumerate(lines):
            if line.split("=", 1)[0].strip() == name and not line[:1].isspace() \
                    and not line.startswith("#"):
                lines[i] = f"{name} = {value}"
                break
        else:
            lines.append(f"{name} = {value}")
        self.draft = "\n".join(lines) + "\n"

    def revert(self) -> None:
        """Throw the draft away and read the file again."""
        self.draft = self.path.read_text(encoding="utf-8")

    def check(self) -> CheckResult:
        """``postfix check`` on the draft (nothing is written)."""
        return check_text(self.draft, MAIN_CF, overrides=self.host.config.overrides(),
                          path_map=self.host.path)

    def check_text(self) -> str:
        """The check's lines, or ``no problems``."""
        lines = self.check().lines()
        return "\n".join(lines) if lines else f"{MAIN_CF}: no problems"

    # -- the file and the server ---------------------------------------------------
    def save(self) -> None:
        """Write the draft to ``/etc/postfix/main.cf`` (atomically: the server never
        sees half a file)."""
        tmp = self.path.with_name(".main.cf.editing")
        tmp.write_text(self.draft, encoding="utf-8")
        os.replace(tmp, self.path)
        self.log.append(f"saved {MAIN_CF} ({len(self.draft.splitlines())} lines)")

    def reload(self) -> bool:
        """``postfix reload``: True when the server now runs with the file; False when
        the file has errors (they are listed in :attr:`log`; old settings stay)."""
        try:
            warnings = self.host.reload()
        except ConfigError as exc:
            self.log.append("postfix reload refused; the server keeps its old settings:")
            self.log += str(exc).splitlines()
            return False
        self.log += [f"warning: {w}" for w in warnings]
        self.log.append("postfix/postfix-script: refreshing the Postfix mail system")
        return True

    def text(self) -> str:
        return numbered(self.draft, problems_by_line(self.check()))

    def html(self) -> str:
        return editor_html(self.draft, problems_by_line(self.check()))

    def widget(self) -> Any:
        """A text area, Check / Save / Reload / Revert buttons and the messages."""
        w = ipywidgets()
        area = w.Textarea(value=self.draft, layout=w.Layout(width="100%", height="320px"))
        view = w.HTML(self.html())
        status = w.HTML("")
        buttons = {n: w.Button(description=n) for n in ("check", "save", "reload", "revert")}

        def show(lines: List[str]) -> None:
            status.value = ("<pre style='margin:0'>" + esc("\n".join(lines)) + "</pre>")

        def on(name: str) -> Any:
            def run(_b: Any) -> None:
                self.draft = area.value
                if name == "check":
                    show([self.check_text()])
                elif name == "save":
                    self.save()
                    show(self.log[-1:])
                elif name == "reload":
                    before = len(self.log)
                    self.reload()
                    show(self.log[before:])
                else:
                    self.revert()
                    area.value = self.draft
                    show(["draft reverted to the file on disk"])
                view.value = self.html()
            return run

        for name, b in buttons.items():
            b.on_click(on(name))
        return w.VBox([area, w.HBox(list(buttons.values())), status, view])

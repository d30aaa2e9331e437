"""What every notebook tool shares: a plain-text face, an HTML face, a lazy widget.

A tool shows itself in three ways:

* ``str(tool)`` / ``repr`` / IPython's pretty printer: plain text, so a
  notebook reads well on GitHub and stays stable under nbval;
* ``_repr_html_``: the same content as HTML, from a pure function;
* ``tool.widget()``: the interactive ipywidgets version (imported only then).
  A cell that builds widgets should be tagged ``nbval-ignore-output``.

>>> class Hello(Tool):
...     def text(self): return "hello"
...     def html(self): return "<b>hello</b>"
>>> Hello()
hello
"""
from __future__ import annotations

import html as _html
from typing import Any, Iterable, List, Sequence

__all__ = ["Tool", "ipywidgets", "html_table", "pre", "esc"]


def ipywidgets() -> Any:
    """The ipywidgets module, imported now (never when labmail is imported)."""
    try:
        import ipywidgets as w  # type: ignore[import-untyped]
    except ImportError as exc:                        # pragma: no cover - course env has it
        raise ImportError("the notebook tools need ipywidgets 8: "
                          "pip install 'labmail[course]'") from exc
    return w


def esc(text: object) -> str:
    """HTML-escape *text*."""
    return _html.escape(str(text))


def pre(text: str, style: str = "") -> str:
    """*text* in a monospace block."""
    return f"<pre style='margin:0;{style}'>{esc(text)}</pre>"


def html_table(head: Sequence[str], rows: Iterable[Sequence[object]],
               styles: Sequence[str] = ()) -> str:
    """A small HTML table; *styles* gives a CSS style per row (optional)."""
    out: List[str] = ["<table style='border-collapse:collapse;font-family:monospace'>", "<tr>"]
    out += [f"<th style='text-align:left;padding:2px 8px;border-bottom:1px solid #999'>"
            f"{esc(h)}</th>" for h in head]
    out.append("</tr>")
    styles = list(styles)
    for i, row in enumerate(rows):
        style = styles[i] if i < len(styles) else ""
        out.append(f"<tr style='{style}'>" + "".join(
            f"<td style='padding:2px 8px'>{esc(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


class Tool:
    """Base of the notebook tools: subclasses define :meth:`text` and :meth:`html`."""

    def text(self) -> str:
        """The tool's content as plain text."""
        raise NotImplementedError

    def html(self) -> str:
        """The tool's content as HTML (default: the text, preformatted)."""
        return pre(self.text())

    def __repr__(self) -> str:
        return self.text()

    __str__ = __repr__

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        return self.html()

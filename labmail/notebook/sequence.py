"""An SMTP session as a sequence diagram: client and server lifelines, one arrow per step.

:func:`sequence_steps` pairs the transcript's lines into steps (a command
and its reply, the message content as one step, the TLS switch as a band);
:func:`sequence_text` draws them in plain text and :func:`draw_sequence`
with matplotlib (imported only when drawing).

>>> lines = ["S: 220 mail ESMTP", "C: EHLO laptop", "S: 250-mail", "S: 250 8BITMIME",
...          "C: QUIT", "S: 221 2.0.0 Bye"]
>>> print(sequence_text(lines))
client                                                   server
  |  <------------------------------------ 220 mail ESMTP  |
  |  EHLO laptop --------------------------------------->  |
  |  <--------------------------------- 250 8BITMIME (+1)  |
  |  QUIT ---------------------------------------------->  |
  |  <------------------------------------- 221 2.0.0 Bye  |
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, List, Union

from ._ui import Tool

if TYPE_CHECKING:  # pragma: no cover
    from ..trace import Transcript

__all__ = ["Step", "sequence_steps", "sequence_text", "draw_sequence", "SequenceDiagram"]


@dataclass(frozen=True)
class Step:
    """One arrow: ``to_server`` (client -> server) or back, with its label."""

    to_server: bool
    label: str
    kind: str = "command"      # command, reply, error, content, tls, note
    tls: bool = False


def _lines(source: Union["Transcript", Iterable[Any]]) -> List[Any]:
    lines: Any = getattr(source, "lines", source)
    return list(lines)


def sequence_steps(source: Union["Transcript", Iterable[Any]]) -> List[Step]:
    """The steps of a transcript (or of ``"C: ..."``/``"S: ..."`` strings).

    A multi-line reply is one arrow labelled with its last line and the
    number of lines before it; content lines after ``354`` become one
    ``message content (N lines)`` arrow.
    """
    steps: List[Step] = []
    pending: List[str] = []
    content = 0
    tls = False
    for raw in _lines(source):
        who, text = (raw.who, raw.text) if hasattr(raw, "who") else \
            (str(raw)[:1], str(raw)[3:] if str(raw)[1:3] == ": " else str(raw)[2:])
        tls = getattr(raw, "tls", tls)
        if who == "C":
            if steps and steps[-1].label.startswith("354"):
                content += 1
                continue
            if content:
                steps.append(Step(True, f"message content ({content} lines) .", "content", tls))
                content = 0
            steps.append(Step(True, text, "command", tls))
        elif who == "S":
            if content:
                steps.append(Step(True, f"message content ({content - 1} lines) .", "content",
                                  tls))
                content = 0
            if text[3:4] == "-":
                pending.append(text)
                continue
            more = f" (+{len(pending)})" if pending else ""
            pending = []
            kind = "error" if text[:1] in "45" else "reply"
            steps.append(Step(False, text + more, kind, tls))
        elif text.startswith("TLS handshake done"):
            steps.append(Step(True, "TLS handshake", "tls", True))
            tls = True
    return steps


def sequence_text(source: Union["Transcript", Iterable[Any]], width: int = 52) -> str:
    """The diagram in plain text (``-->`` to the server, ``<--`` back)."""
    rows = [f"{'client':<{width + 5}}server"]
    for s in sequence_steps(source):
        label = s.label if len(s.label) <= width - 6 else s.label[:width - 9] + "..."
        if s.kind == "tls":
            rows.append(f"  |{' TLS handshake: encrypted from here on ':=^{width + 2}}|")
            continue
        if s.to_server:
            body = f"{label} " + "-" * max(3, width - len(label) - 2) + ">"
        else:
            body = "<" + "-" * max(3, width - len(label) - 2) + f" {label}"
        rows.append(f"  |  {body:<{width}}  |" + ("  [TLS]" if s.tls else ""))
    return "\n".join(rows)


def draw_sequence(source: Union["Transcript", Iterable[Any]], ax: Any = None,
                  title: str = "SMTP session") -> Any:
    """Draw the diagram with matplotlib; returns the Figure."""
    import matplotlib.pyplot as plt               # lazy: only notebooks draw

    steps = sequence_steps(source)
    height = 0.45 * len(steps) + 1.2
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, height))
    else:
        fig = ax.figure
    left, right = 0.0, 10.0
    n = len(steps)
    for x, name in ((left, "client (MUA)"), (right, "server")):
        ax.plot([x, x], [0.5, -n - 0.2], color="#555", lw=1.2)
        ax.text(x, 0.8, name, ha="center", va="bottom", fontweight="bold")
    colours = {"command": "#1f5fbf", "reply": "#1d7a2e", "error": "#b03a2e",
               "content": "#1f5fbf", "tls": "#6c3483"}
    for i, s in enumerate(steps):
        y = -i - 0.2
        if s.kind == "tls":
            ax.axhspan(y - 0.1, -n - 0.2, color="#f4ecf7", zorder=0)
            ax.text((left + right) / 2, y, "TLS handshake - encrypted below", ha="center",
                    va="center", color=colours["tls"], fontsize=9, fontweight="bold")
            continue
        a, b = (left, right) if s.to_server else (right, left)
        ax.annotate("", xy=(b, y - 0.25), xytext=(a, y),
                    arrowprops=dict(arrowstyle="->", color=colours[s.kind],
                                    linestyle="--" if s.kind == "content" else "-"))
        label = s.label if len(s.label) <= 48 else s.label[:45] + "..."
        ax.text((left + right) / 2, y - 0.05, label, ha="center", va="bottom", fontsize=8,
                family="monospace", color=colours[s.kind])
    ax.set_xlim(-1, 11)
    ax.set_ylim(-n - 0.5, 1.4)
    ax.axis("off")
    ax.set_title(title)
    return fig


class SequenceDiagram(Tool):
    """A transcript as a sequence diagram: text when printed, a figure with ``.draw()``.

    >>> SequenceDiagram(host.last_transcript()).draw()            # doctest: +SKIP
    """

    def __init__(self, transcript: Union["Transcript", Iterable[Any]]) -> None:
        self.transcript = transcript

    def text(self) -> str:
        return sequence_text(self.transcript)

    def draw(self, ax: Any = None) -> Any:
        """The matplotlib figure."""
        return draw_sequence(self.transcript, ax=ax)

    def widget(self) -> Any:
        """The figure inside an Output widget."""
        w = __import__("labmail.notebook._ui", fromlist=["ipywidgets"]).ipywidgets()
        out = w.Output()
        with out:
            import matplotlib.pyplot as plt
            fig = self.draw()
            plt.show()
            plt.close(fig)
        return out

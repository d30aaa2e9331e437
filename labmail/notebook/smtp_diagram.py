"""The SMTP session drawn from the lab server's own state table.

Nothing here knows SMTP by itself: the states, the commands and the arrows all
come from :data:`labmail.mta.smtp_states.TRANSITIONS`, the table the lab's
smtpd advances on every reply.  So the diagram in lesson 02 can never drift
from what the server does.

>>> print(state_table_text().splitlines()[0])
CONNECTED  (connected, greeting sent)
>>> s = replay_lines(["S: 220 mail ESMTP", "C: EHLO laptop", "S: 250 mail"])
>>> s.state.name
'READY'
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..mta.smtp_states import TRANSITIONS, SessionState, State

if TYPE_CHECKING:  # pragma: no cover
    from ..trace import Transcript

__all__ = ["edges", "state_table_text", "path_text", "replay", "replay_lines", "command_pairs", "verb",
           "draw_state_diagram"]

History = Sequence[Tuple[str, int, State]]

# Where each state sits in the drawing (x, y): the happy path left to right.
_POSITIONS: Dict[State, Tuple[float, float]] = {
    State.CONNECTED: (0.0, 0.0),
    State.READY: (2.4, 0.0),
    State.MAIL: (4.8, 0.0),
    State.RCPT: (7.2, 0.0),
    State.DATA: (9.6, 0.0),
    State.CLOSED: (4.8, -2.9),
}


def edges(include_failures: bool = False) -> Dict[Tuple[State, State], List[str]]:
    """Arrows of the state table: (from, to) -> the commands that take it.

    Only successful replies move a session, except the end of DATA content,
    which ends the transaction whatever the reply; ``include_failures`` adds
    those arrows too (``CONTENT (any reply)``).  ``CONTENT`` stands for the
    message text and its final ``.`` line.
    """
    ok: Dict[Tuple[State, State], List[str]] = {}
    fail: Dict[Tuple[State, State], List[str]] = {}
    for (src, cmd, outcome), dst in TRANSITIONS.items():
        bucket = ok if outcome == "ok" else fail
        bucket.setdefault((src, dst), [])
        if cmd not in bucket[(src, dst)]:
            bucket[(src, dst)].append(cmd)
    out: Dict[Tuple[State, State], List[str]] = {k: list(v) for k, v in ok.items()}
    if include_failures:
        for key, cmds in fail.items():
            labels = out.setdefault(key, [])
            for cmd in cmds:
                if cmd in labels:
                    labels[labels.index(cmd)] = f"{cmd} (any reply)"
                else:
                    labels.append(f"{cmd} (4xx/5xx)")
    order = list(State)
    return dict(sorted(out.items(), key=lambda kv: (order.index(kv[0][0]),
                                                    order.index(kv[0][1]))))


def state_table_text() -> str:
    """The state table as plain text: each state, then command -> next state."""
    rows: List[str] = []
    table = edges(include_failures=True)
    for state in State:
        rows.append(f"{state.name:<10} ({state.value})")
        moves = [(", ".join(cmds), dst) for (src, dst), cmds in table.items() if src is state]
        if not moves:
            rows.append("    (no command leaves this state)")
        width = max((len(c) for c, _ in moves), default=0)
        for cmds, dst in moves:
            rows.append(f"    {cmds:<{width}}  -> {dst.name}")
    return "\n".join(rows)


def path_text(history: History) -> str:
    """A session's walk through the table, one reply per line.

    >>> s = SessionState(); _ = s.advance("EHLO", 250); _ = s.advance("RCPT", 503)
    >>> print(path_text(s.history))
    CONNECTED  --EHLO 250-->     READY
    READY      --RCPT 503-->     READY       (refused: state unchanged)
    """
    rows: List[str] = []
    state = State.CONNECTED
    for cmd, code, new in history:
        note = ""
        if new is state and (state, cmd, "ok" if code < 400 else "fail") not in TRANSITIONS:
            note = "  (refused: state unchanged)" if code >= 400 else "  (state unchanged)"
        arrow = f"--{cmd} {code}-->"
        rows.append(f"{state.name:<10} {arrow:<17} {new.name:<10}{note}".rstrip())
        state = new
    return "\n".join(rows)


def command_pairs(lines: Iterable[str]) -> List[Tuple[str, int, str]]:
    """Pair each client command with its final reply: ``(command line, code, reply)``.

    Works on ``C:``/``S:`` transcript lines.  Each final reply line
    (``250 ...``, not ``250-...``) answers the oldest command still waiting
    (pipelining sends several at once); after a ``354`` the client's lines are
    message content, and the next reply is paired with ``CONTENT``.  The
    greeting (the first reply) is skipped.

    >>> command_pairs(["S: 220 hi", "C: MAIL FROM:<a@b>", "S: 250 2.1.0 Ok"])
    [('MAIL FROM:<a@b>', 250, '250 2.1.0 Ok')]
    """
    pairs: List[Tuple[str, int, str]] = []
    waiting: List[str] = []
    greeted = False
    in_content = False
    for raw in lines:
        who, _, text = str(raw).partition(": ")
        if who == "C":
            if not in_content:
                waiting.append(text)
        elif who == "S":
            if text[3:4] == "-" or not text[:3].isdigit():
                continue
            code = int(text[:3])
            if not greeted:
                greeted = True
                continue
            if in_content:
                pairs.append(("CONTENT", code, text))
                in_content = False
            elif waiting:
                pairs.append((waiting.pop(0), code, text))
                if code == 354:
                    in_content = True
                    waiting.clear()
    return pairs


def verb(command_line: str) -> str:
    """The command word of a client line, upper-cased (``mail FROM:<x>`` -> ``MAIL``)."""
    return command_line.split(" ", 1)[0].split(":", 1)[0].upper()


def replay_lines(lines: Iterable[str]) -> SessionState:
    """Replay ``C:``/``S:`` transcript lines through a fresh :class:`SessionState`."""
    state = SessionState()
    for command, code, _reply in command_pairs(lines):
        state.advance(verb(command), code)
    return state


def replay(transcript: "Transcript") -> SessionState:
    """Replay a recorded session through the server's state table.

    >>> replay(host.last_transcript()).state.name         # doctest: +SKIP
    'CLOSED'
    """
    return replay_lines(str(line) for line in transcript.lines)


def _curvature(src: State, dst: State) -> float:
    """arc3 curvature for an arrow: back-to-READY arcs below, long jumps above."""
    (x1, _), (x2, _) = _POSITIONS[src], _POSITIONS[dst]
    if dst is State.CLOSED or abs(x2 - x1) < 2.5 and x2 > x1:
        return 0.0
    if x2 < x1:
        return 0.32 if src is State.DATA else -0.3
    return -0.32


def _label_point(src: State, dst: State, rad: float) -> Tuple[float, float]:
    """Where the middle of an arc3 arrow is (matplotlib's control-point formula)."""
    (x1, y1), (x2, y2) = _POSITIONS[src], _POSITIONS[dst]
    dx, dy = x2 - x1, y2 - y1
    return (x1 + x2) / 2 + rad * dy / 2, (y1 + y2) / 2 - rad * dx / 2


def draw_state_diagram(history: Optional[History] = None, ax: Any = None,
                       title: str = "SMTP session states (from labmail.mta.smtp_states)") -> Any:
    """Draw the state table with matplotlib; highlight *history* if given.

    Returns the matplotlib ``Figure``.  matplotlib is imported here, not at
    module import, so the lab runs where it is not installed.  STARTTLS
    (back to CONNECTED, lesson 09) is left out of the drawing to keep it
    readable; :func:`state_table_text` lists every arrow.
    """
    import matplotlib.pyplot as plt  # lazy: only notebooks draw
    from matplotlib.patches import FancyArrowPatch

    if ax is None:
        fig, ax = plt.subplots(figsize=(11, 4.8))
    else:
        fig = ax.figure
    walked = set()
    if history:
        state = State.CONNECTED
        for _cmd, _code, new in history:
            walked.add((state, new))
            state = new
    grey, red = "#7f8c8d", "#c0392b"
    loops: Dict[State, List[str]] = {}
    labelled_reset = False
    for (src, dst), cmds in edges().items():
        if dst is State.CONNECTED:
            continue                      # STARTTLS: listed in the text table
        if src is dst:
            loops[src] = cmds
            continue
        hot = (src, dst) in walked
        colour = red if hot else grey
        rad = _curvature(src, dst)
        quit_arrow = dst is State.CLOSED
        ax.add_patch(FancyArrowPatch(
            _POSITIONS[src], _POSITIONS[dst], arrowstyle="-|>", mutation_scale=14,
            connectionstyle=f"arc3,rad={rad}", shrinkA=26, shrinkB=26, color=colour,
            lw=2.2 if hot else (0.8 if quit_arrow else 1.2),
            linestyle="--" if quit_arrow and not hot else "-", zorder=1))
        if quit_arrow:
            continue
        label = "/".join(cmds)
        if dst is State.READY and src in (State.MAIL, State.RCPT):
            if labelled_reset and src is State.MAIL:
                continue
            label, labelled_reset = "EHLO/HELO/RSET (start over)", True
            if src is State.MAIL:
                continue
        if label == "CONTENT":
            label = "message text, then '.'"
        x, y = _label_point(src, dst, rad)
        ax.text(x, y + (0.12 if rad == 0 else 0), label, ha="center",
                va="bottom" if rad == 0 else "center", fontsize=8, color=colour,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))
    cx, cy = _POSITIONS[State.CLOSED]
    ax.text(cx + 0.7, cy + 0.45, "QUIT (from any state)", fontsize=8, color=grey)
    for state, cmds in loops.items():
        x, y = _POSITIONS[state]
        hot = (state, state) in walked
        ax.text(x, y - 0.42, "again: " + "/".join(cmds), ha="center", va="top",
                fontsize=7, color=red if hot else grey)
    for state, (x, y) in _POSITIONS.items():
        hot = any(state in pair for pair in walked)
        ax.text(x, y, state.name, ha="center", va="center", fontsize=10, weight="bold",
                zorder=2, bbox=dict(boxstyle="round,pad=0.5",
                                    fc="#fdebd0" if hot else "#eaf2f8",
                                    ec=red if hot else "#2e86c1"))
    ax.set_xlim(-1.0, 10.6)
    ax.set_ylim(-3.4, 1.7)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return fig

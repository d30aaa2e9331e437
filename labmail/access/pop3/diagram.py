"""The POP3 session diagram, drawn from :data:`states.TRANSITIONS` as SVG.

Pure string building (no plotting library): a lesson shows it with
``IPython.display.SVG(diagram_svg())``, and it can never drift from the
table the server runs on.

>>> print(state_table_text())              # doctest: +NORMALIZE_WHITESPACE
AUTHORIZATION --login--> TRANSACTION
AUTHORIZATION --QUIT--> CLOSED
AUTHORIZATION --drop--> CLOSED
TRANSACTION --QUIT--> UPDATE
TRANSACTION --drop--> CLOSED
UPDATE --updated--> CLOSED
UPDATE --drop--> CLOSED
"""
from __future__ import annotations

import html
from typing import Dict, List, Tuple

from .states import ALLOWED, TRANSITIONS, State

__all__ = ["state_table_text", "diagram_svg", "EVENT_MEANING"]

EVENT_MEANING = {
    "login": "USER+PASS, APOP or AUTH accepted; maildrop locked",
    "QUIT": "client says QUIT",
    "drop": "connection lost, timeout or too many errors",
    "updated": "marked messages removed, lock released",
}

_POS: Dict[State, Tuple[int, int]] = {
    State.AUTHORIZATION: (110, 70), State.TRANSACTION: (400, 70),
    State.UPDATE: (690, 70), State.CLOSED: (400, 250),
}


def state_table_text() -> str:
    """One line per transition of the table."""
    return "\n".join(f"{a.name} --{ev}--> {b.name}" for (a, ev), b in TRANSITIONS.items())


def _edge(a: State, b: State, label: str, bend: int) -> str:
    (x1, y1), (x2, y2) = _POS[a], _POS[b]
    # start and end on the boxes' borders
    if y1 == y2:
        sx, ex = (x1 + 95, x2 - 95) if x2 > x1 else (x1 - 95, x2 + 95)
        sy = ey = y1
    else:
        sx, sy, ex, ey = x1 + (0 if x1 == x2 else (40 if x2 > x1 else -40)), y1 + 28, \
            x2 + (0 if x1 == x2 else (-90 if x2 > x1 else 90)), y2 - 28 + (0 if x1 == x2 else 20)
    mx, my = (sx + ex) / 2 + bend, (sy + ey) / 2 + (bend if y1 == y2 else 0)
    # diagonal arrows: keep the label clear of the line, on its outer side
    shift = 0 if (y1 == y2 or x1 == x2) else (-55 if x2 > x1 else 55)
    anchor = "middle" if shift == 0 else ("end" if shift < 0 else "start")
    return (f'<path d="M{sx},{sy} Q{mx},{my} {ex},{ey}" fill="none" stroke="#444" '
            f'stroke-width="1.5" marker-end="url(#arrow)"/>'
            f'<text x="{(sx + 2 * mx + ex) / 4 + shift * 0.2:.0f}" y="{(sy + 2 * my + ey) / 4 - 6:.0f}" '
            f'font-size="12" text-anchor="{anchor}" fill="#1f5fbf">{html.escape(label)}</text>')


def diagram_svg() -> str:
    """An SVG drawing of the states, their allowed commands and the transitions."""
    parts: List[str] = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="820" height="330" '
        'font-family="sans-serif">',
        '<defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" '
        'orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#444"/></marker></defs>']
    grouped: Dict[Tuple[State, State], List[str]] = {}
    for (a, ev), b in TRANSITIONS.items():
        grouped.setdefault((a, b), []).append(ev)
    for (a, b), events in grouped.items():
        parts.append(_edge(a, b, " / ".join(events), 0))
    for state, (x, y) in _POS.items():
        parts.append(f'<rect x="{x - 95}" y="{y - 28}" width="190" height="56" rx="10" '
                     f'fill="#eef4ff" stroke="#1f5fbf"/>')
        parts.append(f'<text x="{x}" y="{y - 6}" font-size="14" font-weight="bold" '
                     f'text-anchor="middle">{state.name}</text>')
        cmds = " ".join(sorted(ALLOWED[state])) or "(no commands)"
        size = 9 if len(cmds) > 30 else 10
        if len(cmds) > 34:
            half = cmds.rfind(" ", 0, len(cmds) // 2 + 4)
            lines = [cmds[:half], cmds[half + 1:]]
        else:
            lines = [cmds]
        for i, ln in enumerate(lines):
            parts.append(f'<text x="{x}" y="{y + 10 + 11 * i}" font-size="{size}" '
                         f'text-anchor="middle" fill="#333">{html.escape(ln)}</text>')
    parts.append("</svg>")
    return "".join(parts)

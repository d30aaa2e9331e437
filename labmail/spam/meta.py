"""``meta`` rule expressions: boolean and arithmetic over other rules.

SpamAssassin writes them in Perl's syntax::

    meta  LAB_MONEY_AND_URGENCY  (LAB_MONEY && LAB_URGENT) || (__A + __B + __C > 1)

Each rule name stands for the number of times that rule hit (0 when it did
not). The expression is parsed here with Perl's precedence (``!`` and unary
minus bind tightest, then ``* /``, ``+ -``, comparisons, ``&&``, ``||``)
into a small tree that evaluates against a dict of hit counts.

>>> m = MetaExpr.parse("A && !B")
>>> sorted(m.names)
['A', 'B']
>>> m.evaluate({"A": 1, "B": 0})
1
>>> MetaExpr.parse("(A + B + C) >= 2").evaluate({"A": 1, "C": 1})
1
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable, FrozenSet, List, Mapping, Tuple, Union

__all__ = ["MetaExpr", "MetaSyntaxError"]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(&&|\|\||==|!=|>=|<=|[-+*/()<>!]))")

_BINARY: List[Tuple[str, ...]] = [("||",), ("&&",), ("==", "!=", ">=", "<=", ">", "<"), ("+", "-"), ("*", "/")]
_OPS: Mapping[str, Callable[[float, float], float]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
    ">": operator.gt, "<": operator.lt, "+": operator.add, "-": operator.sub,
    "*": operator.mul, "/": lambda a, b: a / b if b else 0,
}

Node = Union[float, str, tuple]


class MetaSyntaxError(ValueError):
    """The expression does not parse."""


def _tokenize(text: str) -> List[str]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise MetaSyntaxError(f"unexpected character {text[pos:].strip()[:1]!r} in meta expression")
        tokens.append(m.group(m.lastindex or 0))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: List[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self) -> str:
        tok = self.peek()
        if not tok:
            raise MetaSyntaxError("meta expression ends too early")
        self.i += 1
        return tok

    def binary(self, level: int) -> Node:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in _BINARY[level]:
            op = self.take()
            left = (op, left, self.binary(level + 1))
        return left

    def unary(self) -> Node:
        tok = self.take()
        if tok == "!":
            return ("!", self.unary())
        if tok == "-":
            return ("neg", self.unary())
        if tok == "(":
            node = self.binary(0)
            if self.take() != ")":
                raise MetaSyntaxError("missing ) in meta expression")
            return node
        if tok[0].isdigit():
            return float(tok)
        if tok[0].isalpha() or tok[0] == "_":
            return tok
        raise MetaSyntaxError(f"unexpected {tok!r} in meta expression")


def _names(node: Node, out: set) -> None:
    if isinstance(node, str):
        out.add(node)
    elif isinstance(node, tuple):
        for child in node[1:]:
            _names(child, out)


def _eval(node: Node, hits: Mapping[str, float]) -> float:
    if isinstance(node, float):
        return node
    if isinstance(node, str):
        return hits.get(node, 0)
    op = node[0]
    if op == "!":
        return 0 if _eval(node[1], hits) else 1
    if op == "neg":
        return -_eval(node[1], hits)
    if op == "&&":
        left = _eval(node[1], hits)
        return _eval(node[2], hits) if left else left
    if op == "||":
        left = _eval(node[1], hits)
        return left if left else _eval(node[2], hits)
    result = _OPS[op](_eval(node[1], hits), _eval(node[2], hits))
    return int(result) if isinstance(result, bool) else result


@dataclass(frozen=True)
class MetaExpr:
    """A parsed meta expression (see the module docstring)."""

    text: str
    tree: Node
    names: FrozenSet[str]

    @classmethod
    def parse(cls, text: str) -> "MetaExpr":
        """Parse *text*; raise :class:`MetaSyntaxError` when it is malformed."""
        parser = _Parser(_tokenize(text))
        tree = parser.binary(0)
        if parser.peek():
            raise MetaSyntaxError(f"unexpected {parser.peek()!r} in meta expression")
        names: set = set()
        _names(tree, names)
        return cls(text, tree, frozenset(names))

    def evaluate(self, hits: Mapping[str, float]) -> float:
        """The value of the expression given each rule's hit count."""
        value = _eval(self.tree, hits)
        return int(value) if isinstance(value, float) and value.is_integer() else value

"""ClickHouse's own syntax tree of a query, read from `EXPLAIN AST`.

ClickHouse has no structured form of its AST that a client can ask for; `EXPLAIN AST` prints
one node per row, indented one space per level, with `(children N)` on every node that has
children. This module turns those rows back into a tree and refuses any dump whose indentation
and child counts disagree, so a row that is not a node (it could only come from a name holding
a line break, which the guard refuses before) can never be read as part of the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CHILDREN = re.compile(r" \(children (\d+)\)$")
_ALIAS = " (alias "


class MalformedTree(ValueError):
    pass


@dataclass
class Node:
    kind: str  # the node type: SelectWithUnionQuery, Function, TableIdentifier, Literal, Set ...
    text: str  # the rest of the row without the child count: a name, an alias, a literal
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        """A function's, identifier's or table's name (without its alias)."""
        return self.text.split(_ALIAS, 1)[0]

    def walk(self, parent: Node | None = None) -> list[tuple[Node, Node | None]]:
        """Every node below and including this one, each with its parent."""
        out = [(self, parent)]
        for child in self.children:
            out.extend(child.walk(self))
        return out


def unescape_tsv(row: str) -> str:
    # EXPLAIN's rows come back as TabSeparated text: undo its escaping.
    if "\\" not in row:
        return row
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "0": "\0", "b": "\b", "f": "\f", "r": "\r"}.get(m[1], m[1]), row)


def _header(row: str) -> tuple[str, str, int]:
    match = _CHILDREN.search(row)
    claimed = int(match[1]) if match else 0
    head = row[: match.start()] if match else row
    kind, _, text = head.partition(" ")
    return kind, text, claimed


def parse_ast(dump: str) -> Node:
    """The tree of one statement from the text `EXPLAIN AST` returns."""
    rows = [unescape_tsv(r) for r in dump.split("\n") if r != ""]
    if not rows:
        raise MalformedTree("EXPLAIN AST returned nothing")
    stack: list[tuple[int, Node, int]] = []  # (depth, node, children it claims)
    root: Node | None = None
    for row in rows:
        depth = len(row) - len(row.lstrip(" "))
        kind, text, claimed = _header(row.lstrip(" "))
        if not kind:
            raise MalformedTree(f"an empty row in the syntax tree: {row!r}")
        node = Node(kind, text)
        while stack and stack[-1][0] >= depth:
            _close(stack.pop())
        if root is None:
            if depth != 0:
                raise MalformedTree("the syntax tree does not start at its root")
            root = node
        elif not stack or stack[-1][0] != depth - 1:
            raise MalformedTree(f"a row outside the tree: {row!r}")
        else:
            stack[-1][1].children.append(node)
        stack.append((depth, node, claimed))
    while stack:
        _close(stack.pop())
    assert root is not None
    return root


def _close(entry: tuple[int, Node, int]) -> None:
    _, node, claimed = entry
    if len(node.children) != claimed:
        raise MalformedTree(f"{node.kind} claims {claimed} children and has {len(node.children)}")

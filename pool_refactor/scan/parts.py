"""`ast.parse` of a long text in parts, with the same tree and a lower peak.

Why here: the scan parses every file that imports a client library, and the wiring parses the
package's long modules again; litellm's `proxy_server.py` (940 KB) took `ast.parse` 49 MB at its
peak for a 26 MB tree, the peak of a whole `--diff` run. Both read the tree as `ast.parse` gives it,
so the function that keeps the peak down is the scan layer's, and the wiring uses it too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

__all__ = ["PART_CHARS", "PartReader", "parse_in_parts"]

PART_CHARS = 64 * 1024
"""`parse_in_parts` parses a text at least twice this long in parts of about this size."""

_PART_START = re.compile(r"\n(?=[A-Za-z_@])")
_NOT_FIRST = ("def ", "class ", "async ", "else", "elif", "except", "finally")


PartReader = Callable[[list[ast.stmt], bool], None]
"""Called by `parse_in_parts` with each part's top-level statements, before the next part is parsed,
and whether they are the first (when a part fails, the whole text is parsed and handed over again,
as the first)."""


def parse_in_parts(
    text: str, part_chars: int = PART_CHARS, on_part: PartReader | None = None, filename: str = "<unknown>"
) -> ast.Module:
    """`ast.parse(text)`, with the same tree, from parts of the text parsed one after another.

    Why: while `ast.parse` builds a tree, the parser's own copy of it is alive too, so a 940 KB file
    (litellm's `proxy_server.py`) peaks at 56 MB for a 26 MB tree; the wiring holds every text of the
    package at that moment. A part ends before a line that starts at column 0 with a decorator (`@`)
    or a name other than `def`, `class`, `async` (which may follow a decorator) and `else`, `elif`,
    `except`, `finally`; each part is parsed on its own, behind as many blank lines as precede it, so
    that every position is the one in the whole text. A module of decorated routes (most of
    litellm's `proxy_server.py`) has few lines of the second kind: parts of 6,000 lines without the
    first.

    Why the tree is the same: a part that ends inside a bracket, a string, a decorated definition or
    after a backslash does not parse, and a part that does parse ends where the whole text's
    statement ends too (its next line, at column 0, cannot continue it). A part that does not parse
    (a string that holds such lines, as SQL often is) is extended by as much again, a few times;
    then the whole text is parsed instead, so errors
    are those of `ast.parse`. Texts where a part's meaning may depend on what is before it (a
    `__future__` import after the first part, `barry_as_FLUFL`) or where lines are not counted by
    `\\n` alone (a carriage return) are parsed whole.

    `filename` is `ast.parse`'s, for the errors (raised by the whole text's parse).

    `on_part` reads each part's statements while the part's tree is the only one whole in memory
    (`PartReader`; the wiring reads a long module's calls and names so, and keeps less of it).
    """
    if len(text) < 2 * part_chars or "\r" in text or "barry_as_FLUFL" in text:
        return _parse_whole(text, on_part, filename)
    body: list[ast.stmt] = []
    start = 0
    lines = 0
    while start < len(text):
        end = _part_end(text, start + part_chars)
        for _attempt in range(_ATTEMPTS):
            if start and "__future__" in text[start:end]:
                return _parse_whole(text, on_part, filename)
            part = text[start:end]
            try:
                tree = ast.parse("\n" * lines + part, filename=filename)
                break
            except SyntaxError:
                if end == len(text):
                    return _parse_whole(text, on_part, filename)
                end = _part_end(text, end + part_chars)
        else:
            return _parse_whole(text, on_part, filename)
        if on_part is not None:
            on_part(tree.body, not body)
        body.extend(tree.body)
        del tree
        lines += part.count("\n")
        start = end
    return ast.Module(body=body, type_ignores=[])


def _parse_whole(text: str, on_part: PartReader | None, filename: str) -> ast.Module:
    tree = ast.parse(text, filename=filename)
    if on_part is not None:
        on_part(tree.body, True)
    return tree


_ATTEMPTS = 4
"""How many ends a part may try before the whole text is parsed (see `parse_in_parts`)."""


def _part_end(text: str, at: int) -> int:
    """Where a part that should end near `at` ends: the start of the next line at or after `at`
    that may start a statement of its own (see `parse_in_parts`), else the end of the text."""
    for match in _PART_START.finditer(text, max(at - 1, 0)):
        start = match.end()
        if not text.startswith(_NOT_FIRST, start):
            return start
    return len(text)

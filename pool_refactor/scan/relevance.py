"""Which statements of a module can matter to the scan: those whose lines mention a name of interest.

A finding needs a call whose callee resolves to a catalogued name (`httpx.AsyncClient`, `AC`,
`requests.get`), and a name only resolves, or is shadowed, where its identifier is written. So a
statement whose lines never spell any of those identifiers can neither hold a site nor change what
a name means, and the walks over the tree skip it whole. On real service code a few percent of a
candidate module's lines mention a client library's names; walking only the statements around
them is what brought the scan from about three times `ast.parse`'s cost down to little more than
the parse itself (benchmarks/scan_speed.py, issue 5).

Statements are the unit because their line spans are exact; expressions inside a kept statement
are walked in full, so nothing inside f-strings or across continuation lines is missed.
"""

from __future__ import annotations

import ast
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable


class Relevance:
    """The sorted line numbers on which any of `words` is written as a whole identifier."""

    def __init__(self, text: str, words: Iterable[str]) -> None:
        self._lines = _lines_mentioning(text, sorted(set(words)))

    @property
    def empty(self) -> bool:
        return not self._lines

    def covers(self, statement: ast.stmt) -> bool:
        """Whether any line of `statement` (its decorators included) mentions a word."""
        start = statement.lineno
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in statement.decorator_list:
                start = min(start, decorator.lineno)
        end = statement.end_lineno or start
        index = bisect_left(self._lines, start)
        return index < len(self._lines) and self._lines[index] <= end


class Everything(Relevance):
    """Keeps every statement: for callers that have a tree but not its text."""

    def __init__(self) -> None:
        self._lines = []

    @property
    def empty(self) -> bool:
        return False

    def covers(self, statement: ast.stmt) -> bool:
        return True


def _lines_mentioning(text: str, words: list[str]) -> list[int]:
    if not words:
        return []
    if not text.isascii():
        # The parser folds identifiers to NFKC (`ｈｔｔｐｘ` is `httpx`); no character folds into
        # a line break, so line numbers are unchanged.
        text = unicodedata.normalize("NFKC", text)
    if "\r" in text:
        # The parser counts `\r\n` and a lone `\r` as one line break each, like `\n`.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # str.find per word, checking the identifier boundaries by hand: several times faster than one
    # `\b(?:a|b)\b` regex over the whole text, and this runs twice per candidate module.
    positions: list[int] = []
    for word in words:
        size = len(word)
        found = text.find(word)
        while found != -1:
            after = found + size
            if not (found and _is_identifier_char(text[found - 1])) and not (
                after < len(text) and _is_identifier_char(text[after])
            ):
                positions.append(found)
            found = text.find(word, after)
    positions.sort()
    lines: list[int] = []
    line, previous = 1, 0
    for position in positions:
        line += text.count("\n", previous, position)
        previous = position
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def _is_identifier_char(char: str) -> bool:
    return char.isalnum() or char == "_"

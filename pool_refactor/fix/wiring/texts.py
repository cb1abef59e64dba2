"""The package's texts as the wiring reads them: every file, held compactly while it is not read.

Why: the wiring searches every file of the package (for an application class, `lifespan=`, the
imports, the entry points), so it holds all their texts at once, under the trees of the few files
it parses. Python stores a text in 1, 2 or 4 bytes a character, whichever its widest character
needs: one emoji makes a 22,000-line module 3.7 MB instead of 0.9 MB. On litellm's proxy (839
files, 16 M characters) the texts took 30 MB, 23 MB of them in files with such a character. A text
that wastes at least `COMPACT_FROM_BYTES` that way is kept as its UTF-8 encoding and decoded each
time it is read; each read gives an equal text (not the same object), and the rest are kept as
they are. Paths can be read alone (`paths`), without decoding anything.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import overload

__all__ = ["COMPACT_FROM_BYTES", "PackageTexts", "paths_of"]

COMPACT_FROM_BYTES = 4096
"""A text is kept encoded when its UTF-8 form is at least this much smaller than the text.

Only long texts with a wide character pass it (a few files of a large package), so what is decoded
again, once for each of the wiring's passes over the files, stays a small part of what it reads."""


class PackageTexts(Sequence[tuple[Path, str]]):
    """`(path, text)` pairs, as a list of them would give them."""

    __slots__ = ("paths", "_stored")

    def __init__(self, files: Iterable[tuple[Path, str]]) -> None:
        self.paths: list[Path] = []
        self._stored: list[str | bytes] = []
        for path, text in files:
            self.paths.append(path)
            self._stored.append(_compact(text))

    def __len__(self) -> int:
        return len(self.paths)

    @overload
    def __getitem__(self, index: int) -> tuple[Path, str]: ...

    @overload
    def __getitem__(self, index: slice) -> PackageTexts: ...

    def __getitem__(self, index: int | slice) -> tuple[Path, str] | PackageTexts:
        if isinstance(index, slice):
            part = PackageTexts(())
            part.paths = self.paths[index]
            part._stored = self._stored[index]
            return part
        return self.paths[index], _text(self._stored[index])

    def __iter__(self) -> Iterator[tuple[Path, str]]:
        for path, stored in zip(self.paths, self._stored, strict=True):
            yield path, _text(stored)

    def mentioning(self, *words: str) -> Iterator[tuple[int, Path, str]]:
        """`(index, path, text)` of the files that spell one of `words` (plain ASCII), without
        decoding the others: a word is in a text exactly when its bytes are in the UTF-8 form."""
        encoded = [word.encode("ascii") for word in words]
        for index, stored in enumerate(self._stored):
            found = (
                any(word in stored for word in words)
                if isinstance(stored, str)
                else any(word in stored for word in encoded)
            )
            if found:
                yield index, self.paths[index], _text(stored)

    def only(self, keep: Sequence[bool]) -> PackageTexts:
        """The files whose flag in `keep` is true, without decoding any text."""
        part = PackageTexts(())
        part.paths = [path for path, flag in zip(self.paths, keep, strict=True) if flag]
        part._stored = [stored for stored, flag in zip(self._stored, keep, strict=True) if flag]
        return part


def paths_of(files: Sequence[tuple[Path, str]]) -> list[Path]:
    """The paths of `files`, without reading (or decoding) their texts."""
    if isinstance(files, PackageTexts):
        return files.paths
    return [path for path, _text in files]


def _compact(text: str) -> str | bytes:
    if text.isascii():
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    return encoded if sys.getsizeof(text) - len(encoded) >= COMPACT_FROM_BYTES else text


def _text(stored: str | bytes) -> str:
    return stored if isinstance(stored, str) else stored.decode("utf-8", "surrogatepass")

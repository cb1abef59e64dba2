"""Reading a Python file exactly as Python would, and writing it back byte for byte.

A codemod is trusted only if the parts of a file it did not touch come back unchanged, so ``text``
keeps every line ending as it is on disk (no universal-newline translation: CRLF stays CRLF, a lone
CR stays a lone CR), the BOM is remembered rather than kept in the text, and the encoding is the one
Python itself would use (PEP 263 cookie, else UTF-8). ``encode_source`` is the exact inverse.

Each way a file can be unreadable gets its own message, phrased for the person who has to fix it
(``SourceError``); the scan reports it and goes on with the other files.

Size limit: files over ``MAX_SOURCE_BYTES`` (10 MiB) are skipped with an error. The largest
hand-written modules in big projects are well under 1 MiB; anything over 10 MiB is generated data
(huge literals, vendored bundles) that nobody hand-edits, and building a libcst tree for it would take
minutes and gigabytes of memory (libcst parses 2,000 lines in about 100 ms here). The limit is an
argument, so a caller can raise it.
"""

from __future__ import annotations

import codecs
import errno
import functools
import io
import os
import re
import stat
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "GENERATED_HEADER",
    "MAX_SOURCE_BYTES",
    "TEMPLATE_MARKER",
    "Source",
    "SourceError",
    "encode_source",
    "is_generated",
    "mentions_any",
    "read_bytes",
    "read_source",
]

MAX_SOURCE_BYTES = 10 * 1024 * 1024
"""Files larger than this are not read (see the module docstring for why 10 MiB)."""

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_COOKIE_RE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", re.ASCII)
_BLANK_RE = re.compile(rb"^[ \t\f]*(?:[#\r\n]|$)", re.ASCII)


class SourceError(Exception):
    """Why a file cannot be read as Python source; the message is shown to the user as is."""


@dataclass(frozen=True)
class Source:
    raw: bytes
    """The file's bytes, exactly as read."""
    text: str
    """Decoded, BOM removed, line endings exactly as in the file."""
    encoding: str
    """Python's normalised name of the encoding in use: the cookie's, ``utf-8`` or ``utf-8-sig``."""
    has_bom: bool
    newline: str
    """The most common line ending (``\\n``, ``\\r\\n`` or ``\\r``); ``\\n`` when there is none.
    New lines a codemod inserts should use it."""


def _format_size(size: int) -> str:
    mib = size / (1024 * 1024)
    return f"{mib:.0f} MiB" if mib == int(mib) else f"{mib:.1f} MiB"


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, or a SourceError that says in plain words why not."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        # O_NONBLOCK: opening a FIFO that someone named ``x.py`` must not hang the run.
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise SourceError("is a directory, not a Python file") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except (FileNotFoundError, NotADirectoryError):
        message = "broken symbolic link" if os.path.islink(path) else "does not exist"
        raise SourceError(message) from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SourceError("symbolic link loop") from None
        raise SourceError(f"cannot open: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError("is a directory, not a Python file")
        if not stat.S_ISREG(info.st_mode):
            raise SourceError("is not a regular file")
        if info.st_size > max_bytes:
            size = _format_size(info.st_size)
            raise SourceError(f"larger than {_format_size(max_bytes)} ({size}), skipped")
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except PermissionError:
        raise SourceError("permission denied") from None
    except OSError as error:
        raise SourceError(f"cannot read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # the file grew after fstat
        raise SourceError(f"larger than {_format_size(max_bytes)}, skipped")
    return data


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and (byte) column of ``offset``; a lone CR ends a line, as for Python."""
    before = data[:offset]
    line_start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
    line = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
    return line, offset - line_start + 1


def _cookie(data: bytes) -> tuple[str, int] | None:
    """The encoding declared by a PEP 263 cookie on line 1 or 2, with its line number."""
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    lines = data.splitlines(keepends=True)[:2]
    for number, line in enumerate(lines, start=1):
        match = _COOKIE_RE.match(line)
        if match:
            return match.group(1).decode("ascii"), number
        if not _BLANK_RE.match(line):
            break  # a cookie only counts on line 2 if line 1 is blank or a comment
    return None


def _normal_name(name: str) -> str:
    """Spell an encoding name the way ``tokenize.detect_encoding`` does."""
    lowered = name[:12].lower().replace("_", "-")
    if lowered == "utf-8" or lowered.startswith("utf-8-"):
        return "utf-8"
    if lowered in ("latin-1", "iso-8859-1", "iso-latin-1") or lowered.startswith(
        ("latin-1-", "iso-8859-1-", "iso-latin-1-")
    ):
        return "iso-8859-1"
    return name


def _detect_encoding(data: bytes) -> str:
    """Python's own answer (``tokenize.detect_encoding``), with our wording for its refusals.

    One case is settled as the interpreter does rather than as ``tokenize`` does: a cookie on line 2
    after a first line (a shebang, say) that is not valid UTF-8 is honoured, since CPython runs such
    a file.
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        declared = _cookie(data)
        has_bom = data.startswith(_UTF8_BOM)
        if declared is not None:
            name, line = declared
            try:
                codecs.lookup(name)
            except LookupError:
                raise SourceError(
                    f"unknown encoding {name!r} in the coding declaration on line {line}"
                ) from None
            if has_bom:
                raise SourceError(
                    f"starts with a UTF-8 byte order mark but declares encoding {name!r} on line {line}"
                ) from None
            return _normal_name(name)
        # No usable cookie: Python read the first lines as UTF-8 and failed; say where.
        body = data[3:] if has_bom else data
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _decode_error(data, "utf-8", error, len(data) - len(body)) from None
        raise SourceError("invalid or missing encoding declaration") from None
    return encoding


def _decode_error(data: bytes, encoding: str, error: UnicodeDecodeError, skipped: int) -> SourceError:
    offset = error.start + skipped
    line, column = _line_and_column(data, offset)
    bad = data[offset : offset + 1].hex()
    declared = _cookie(data)
    if declared is None:
        hint = "declare the file's encoding with a '# -*- coding: <name> -*-' line or save it as UTF-8"
    else:
        hint = f"the coding declaration on line {declared[1]} says {declared[0]!r}"
    where = f"at byte {offset} (line {line}, column {column}, byte 0x{bad})"
    return SourceError(f"not valid {encoding} {where}: {error.reason}; {hint}")


def _dominant_newline(data: bytes) -> str:
    crlf = data.count(b"\r\n")
    cr = data.count(b"\r") - crlf
    lf = data.count(b"\n") - crlf
    if not (crlf or cr or lf):
        return "\n"
    best = max(lf, crlf, cr)
    if [lf, crlf, cr].count(best) > 1:  # a tie: the first line's ending decides
        first = re.search(rb"\r\n|\r|\n", data)
        assert first is not None
        return first.group().decode("ascii")
    return "\n" if lf == best else "\r\n" if crlf == best else "\r"


def decode_source(data: bytes) -> Source:
    """Decode bytes already in memory as Python would; raises SourceError with a precise reason."""
    if data.startswith(_UTF16_BOMS):
        raise SourceError("is encoded as UTF-16, which Python source files cannot be; save it as UTF-8")
    null = data.find(b"\0")
    if null != -1:
        line, column = _line_and_column(data, null)
        raise SourceError(f"contains null bytes (first at byte {null}, line {line}, column {column})")
    encoding = _detect_encoding(data)
    has_bom = data.startswith(_UTF8_BOM)
    body = data[len(_UTF8_BOM) :] if has_bom else data
    codec = "utf-8" if has_bom else encoding
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as error:
        raise _decode_error(data, codec, error, len(data) - len(body)) from None
    except LookupError:  # a codec that exists but is not a text encoding, like 'rot13'
        raise SourceError(f"encoding {encoding!r} in the coding declaration is not a text encoding") from None
    return Source(raw=data, text=text, encoding=encoding, has_bom=has_bom, newline=_dominant_newline(data))


def read_bytes(path: Path, max_bytes: int = MAX_SOURCE_BYTES) -> bytes:
    """The file's bytes, or a SourceError saying why not (no decoding)."""
    return _read_bytes(path, max_bytes)


def read_source(path: Path, max_bytes: int = MAX_SOURCE_BYTES) -> Source:
    """Read and decode one Python file; raises SourceError with a message meant for the user."""
    return decode_source(_read_bytes(path, max_bytes))


def encode_source(text: str, like: Source) -> bytes:
    """Encode ``text`` the way ``like`` was stored: same encoding, BOM put back.

    For ``text == like.text`` the result is ``like.raw``, byte for byte. A few legacy codecs map two
    byte sequences to one character; for those the round trip is checked and a SourceError raised
    rather than silently rewriting parts of the file nobody asked to change.
    """
    codec = "utf-8" if like.has_bom else like.encoding
    try:
        body = text.encode(codec)
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end]
        raise SourceError(
            f"the new text has {bad!r}, which the file's encoding {like.encoding!r} cannot represent"
        ) from None
    if codecs.lookup(codec).name != "utf-8":
        original = like.raw[len(_UTF8_BOM) :] if like.has_bom else like.raw
        if like.text.encode(codec) != original:
            raise SourceError(
                f"the file's encoding {like.encoding!r} does not round-trip byte for byte; left alone"
            )
    return _UTF8_BOM + body if like.has_bom else body


@functools.lru_cache(maxsize=64)
def _mentions_matcher(names: tuple[str, ...]) -> tuple[tuple[bytes, ...], re.Pattern[bytes]]:
    encoded = tuple(name.encode("utf-8") for name in names)
    alternatives = b"|".join(re.escape(name) for name in sorted(encoded, key=len, reverse=True))
    # An import statement at the start of a line or after `:`/`;` (`try: import httpx`):
    # `from NAME...` or `import a, NAME.sub as x`. `from myapp import requests` is not the library.
    word = rb"(?<![\w.])(?:" + alternatives + rb")(?!\w)"
    pattern = (
        rb"(?m)(?:^|[:;])(?:\xef\xbb\xbf)?[ \t\f]*(?:from[ \t]+"
        + word
        + rb"|import[ \t]+[^\n#]*?"
        + word
        + rb")"
    )
    # Searching for the plain names first is memchr-fast; a name inside a longer one (httpx2 holds
    # httpx) need not be searched for separately.
    shortest = tuple(n for n in encoded if not any(o != n and o in n for o in encoded))
    return shortest, re.compile(pattern)


def mentions_any(raw: bytes, names: Iterable[str]) -> bool:
    """Does ``raw`` import any of ``names``? The prefilter in front of the parser.

    The scanner resolves every client through the module's imports, so a file that imports none of
    the libraries cannot hold a finding, however often it says `requests`. Most files are dismissed
    by one ``bytes in`` search per name (memchr speed); only files containing a name pay for the
    regular expression, which looks for an import statement naming it as a whole word (not
    ``myhttpx``, not ``x.httpx``). False positives (an import in a string) are fine: the parser
    decides. The one false negative is an import split by a backslash right after `import`/`from`.
    """
    key = names if isinstance(names, tuple) else tuple(names)
    if not key:
        return False
    encoded, pattern = _mentions_matcher(key)
    if not any(name in raw for name in encoded):
        return False
    return pattern.search(raw) is not None


GENERATED_HEADER = "# Generated by pool-refactor"
"""First characters of the shared module that `--fix` writes (the fix layer's `HEADER_START`; a
test keeps the two equal, since the scan layer imports nothing after it)."""

TEMPLATE_MARKER = "# pool-refactor: template"
"""A line of the leading comment block of the shared module's template (pool-refactor's own)."""


def is_generated(text: str) -> bool:
    """Whether ``text`` is pool-refactor's own shared module (generated, or its template).

    Such a module is the cure, not the disease: its accessors build a client only on a cache miss,
    and reporting them (as factories) would make `scan` complain about what `--fix` just wrote. The
    generated module may be edited freely and keeps its header, so an edited module is still
    skipped. Only the leading comment block is read (the template's marker is its second line).
    """
    text = text.removeprefix("\ufeff")
    if not text.startswith("#"):
        return False
    if text.startswith(GENERATED_HEADER):
        return True
    for line in text[:2048].splitlines():
        if not line.startswith("#"):
            return False
        if line.rstrip() == TEMPLATE_MARKER:
            return True
    return False

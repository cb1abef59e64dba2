"""Reading source files exactly as Python does, every way it can fail, and the byte-exact round trip."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pool_refactor.scan.source import (
    MAX_SOURCE_BYTES,
    Source,
    SourceError,
    decode_source,
    encode_source,
    mentions_any,
    read_source,
)

try:
    from fs_helpers import public_tmp, run_unprivileged
except ModuleNotFoundError:  # tests/ imported as a package
    from tests.fs_helpers import public_tmp, run_unprivileged


def read(tmp_path: Path, data: bytes, name: str = "mod.py") -> Source:
    path = tmp_path / name
    path.write_bytes(data)
    return read_source(path)


def error_of(tmp_path: Path, data: bytes) -> str:
    with pytest.raises(SourceError) as caught:
        read(tmp_path, data)
    return str(caught.value)


# --- decoding ---------------------------------------------------------------------------------------


def test_plain_utf8(tmp_path: Path) -> None:
    data = "import httpx\nname = 'Zoë'\n".encode()
    source = read(tmp_path, data)
    assert source == Source(raw=data, text="import httpx\nname = 'Zoë'\n", encoding="utf-8", has_bom=False,
                            newline="\n")


def test_crlf_is_kept_exactly(tmp_path: Path) -> None:
    data = b"import httpx\r\n\r\nx = 1\r\n"
    source = read(tmp_path, data)
    assert source.text == "import httpx\r\n\r\nx = 1\r\n"
    assert source.newline == "\r\n"
    assert encode_source(source.text, source) == data


def test_mixed_and_lone_cr_line_endings_are_kept(tmp_path: Path) -> None:
    data = b"a = 1\r\nb = 2\nc = 3\rd = 4\r\ne = 5\r\n"
    source = read(tmp_path, data)
    assert source.text == data.decode()
    assert source.newline == "\r\n"
    assert read(tmp_path, b"a = 1\rb = 2\r").newline == "\r"
    assert read(tmp_path, b"x = 1").newline == "\n"
    assert read(tmp_path, b"a\r\nb\n").newline == "\r\n"  # a tie: the first line decides


def test_bom_is_removed_from_text_and_put_back(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b"x = '\xc3\xa9'\n"
    source = read(tmp_path, data)
    assert source.text == "x = 'é'\n"
    assert source.has_bom and source.encoding == "utf-8-sig"
    assert encode_source(source.text, source) == data
    assert encode_source("y = 2\n", source) == codecs.BOM_UTF8 + b"y = 2\n"


def test_bom_with_a_matching_cookie(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + b"# -*- coding: utf-8 -*-\nx = 1\n"
    source = read(tmp_path, data)
    assert source.has_bom and source.text.startswith("# -*- coding")
    assert encode_source(source.text, source) == data


def test_latin1_cookie(tmp_path: Path) -> None:
    data = b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n"
    source = read(tmp_path, data)
    assert source.encoding == "iso-8859-1"
    assert "café" in source.text
    assert encode_source(source.text, source) == data
    assert encode_source(source.text.replace("café", "thé"), source) == data.replace(b"caf\xe9", b"th\xe9")


def test_cookie_on_the_second_line_after_a_shebang(tmp_path: Path) -> None:
    data = b"#!/usr/bin/env python\n# vim: set fileencoding=cp1252 :\ns = '\x80'\n"
    source = read(tmp_path, data)
    assert source.encoding == "cp1252"
    assert "€" in source.text


def test_cookie_after_a_shebang_that_is_not_utf8(tmp_path: Path) -> None:
    data = b"#!/opt/py\xe9/python\n# coding: latin-1\nx = 1\n"
    compile(data, "x", "exec")  # CPython accepts it, so must we
    assert read(tmp_path, data).encoding == "iso-8859-1"


def test_cookie_after_code_does_not_count(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"x = 1\n# coding: latin-1\ny = '\xe9'\n")
    assert message.startswith("not valid utf-8 at byte 29 (line 3, column 6, byte 0xe9)")


def test_undecodable_bytes_say_where(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"import httpx\nx = '\xff\xfe'\n")
    assert message == (
        "not valid utf-8 at byte 18 (line 2, column 6, byte 0xff): invalid start byte; "
        "declare the file's encoding with a '# -*- coding: <name> -*-' line or save it as UTF-8"
    )


def test_undecodable_bytes_with_a_cookie(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"# coding: utf-8\nx = '\xe9'\n")
    assert message.startswith("not valid utf-8 at byte 21 (line 2, column 6, byte 0xe9)")
    assert message.endswith("the coding declaration on line 1 says 'utf-8'")


def test_undecodable_in_the_first_line(tmp_path: Path) -> None:
    assert error_of(tmp_path, b"x = '\xff'\n").startswith("not valid utf-8 at byte 5 (line 1, column 6")


def test_undecodable_in_the_declared_legacy_encoding(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"# coding: cp1252\nx = '\x81'\n")
    assert message.startswith("not valid cp1252 at byte 22 (line 2, column 6, byte 0x81)")


def test_wrong_cookie_ascii_with_non_ascii_bytes(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"# coding: ascii\nname = 'caf\xc3\xa9'\n")
    assert message.startswith("not valid ascii at byte 27 (line 2, column 12, byte 0xc3): ordinal not")
    assert message.endswith("the coding declaration on line 1 says 'ascii'")


def test_wrong_cookie_that_still_decodes_keeps_the_bytes(tmp_path: Path) -> None:
    data = "# coding: latin-1\nname = 'café'\n".encode()  # really UTF-8: mojibake, but lossless
    source = read(tmp_path, data)
    assert source.text == data.decode("latin-1")
    assert encode_source(source.text, source) == data


def test_unknown_encoding_in_the_cookie(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"# -*- coding: klingon -*-\nx = 1\n")
    assert message == "unknown encoding 'klingon' in the coding declaration on line 1"


def test_cookie_naming_a_codec_that_is_not_a_text_encoding(tmp_path: Path) -> None:
    assert error_of(tmp_path, b"# coding: rot13\nx = 1\n") == (
        "encoding 'rot13' in the coding declaration is not a text encoding"
    )


def test_bom_contradicting_the_cookie(tmp_path: Path) -> None:
    message = error_of(tmp_path, codecs.BOM_UTF8 + b"# coding: latin-1\nx = 1\n")
    assert message == "starts with a UTF-8 byte order mark but declares encoding 'latin-1' on line 1"


def test_null_bytes(tmp_path: Path) -> None:
    message = error_of(tmp_path, b"x = 1\ny = '\x00'\n")
    assert message == "contains null bytes (first at byte 11, line 2, column 6)"


def test_utf16_file(tmp_path: Path) -> None:
    data = "x = 1\n".encode("utf-16")
    assert error_of(tmp_path, data) == (
        "is encoded as UTF-16, which Python source files cannot be; save it as UTF-8"
    )


def test_python2_and_tabs_are_read_the_parser_judges_them(tmp_path: Path) -> None:
    data = b"print 'hello'\nif x:\n\tpass\n"
    assert read(tmp_path, data).text == data.decode()


def test_empty_file(tmp_path: Path) -> None:
    source = read(tmp_path, b"")
    assert source.text == "" and source.newline == "\n" and encode_source("", source) == b""


# --- files that cannot be read ----------------------------------------------------------------------


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.py"
    with path.open("wb") as handle:
        handle.truncate(20 * 1024 * 1024)  # a 20 MiB file (sparse: fast to make)
    with pytest.raises(SourceError, match=r"^larger than 10 MiB \(20 MiB\), skipped$"):
        read_source(path)
    assert MAX_SOURCE_BYTES == 10 * 1024 * 1024
    (tmp_path / "small.py").write_bytes(b"x = 1\n" * 10)
    with pytest.raises(SourceError, match=r"^larger than 0\.0 MiB"):
        read_source(tmp_path / "small.py", max_bytes=10)
    assert read_source(tmp_path / "small.py", max_bytes=60).text == "x = 1\n" * 10


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "pkg.py").mkdir()
    with pytest.raises(SourceError, match="^is a directory, not a Python file$"):
        read_source(tmp_path / "pkg.py")


def test_missing_file_and_broken_link(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="^does not exist$"):
        read_source(tmp_path / "gone.py")
    (tmp_path / "link.py").symlink_to("gone.py")
    with pytest.raises(SourceError, match="^broken symbolic link$"):
        read_source(tmp_path / "link.py")
    (tmp_path / "loop.py").symlink_to("loop.py")
    with pytest.raises(SourceError, match="^symbolic link loop$"):
        read_source(tmp_path / "loop.py")


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    with pytest.raises(SourceError, match="^is not a regular file$"):
        read_source(tmp_path / "pipe.py")


def _read_message(path: str) -> str:
    try:
        read_source(Path(path))
    except SourceError as error:
        return str(error)
    return "read without error"


def test_permission_denied() -> None:
    with public_tmp() as folder:
        path = folder / "secret.py"
        path.write_bytes(b"x = 1\n")
        path.chmod(0)
        assert run_unprivileged(_read_message, str(path)) == "permission denied"


# --- round trip (property based) --------------------------------------------------------------------

_char = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00")
_line = st.text(alphabet=_char, max_size=30)
_newline = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def _sources(draw: st.DrawFn) -> tuple[bytes, str]:
    lines = draw(st.lists(st.tuples(_line, _newline), max_size=12))
    body = "".join(text + end for text, end in lines) + draw(_line)
    kind = draw(st.sampled_from(["utf-8", "bom", "latin-1", "cp1252"]))
    if kind in ("latin-1", "cp1252"):
        header = f"# -*- coding: {kind} -*-\n"
        encodable = "".join(ch for ch in body if _encodable(ch, kind))
        return (header + encodable).encode(kind), header + encodable
    if kind == "bom":
        return codecs.BOM_UTF8 + body.encode("utf-8"), body
    # Without a BOM of its own, text that starts with U+FEFF gets one once encoded.
    return body.encode("utf-8"), body.removeprefix("\ufeff")


def _encodable(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@settings(max_examples=150, deadline=None)
@given(_sources())
def test_round_trip_is_byte_exact(case: tuple[bytes, str]) -> None:
    data, text = case
    try:
        source = decode_source(data)
    except SourceError:
        # Only generated text that happens to hold a coding declaration may legitimately fail.
        assert "coding" in text
        return
    assert source.text == text
    assert encode_source(source.text, source) == data
    assert decode_source(encode_source(source.text, source)) == source


def test_a_character_the_encoding_cannot_hold(tmp_path: Path) -> None:
    source = read(tmp_path, b"# coding: latin-1\nx = 1\n")
    with pytest.raises(SourceError, match="cannot represent"):
        encode_source("# coding: latin-1\nx = '€'\n", source)


def test_a_lossy_legacy_codec_is_refused_rather_than_rewritten() -> None:
    # In ISO-2022-JP two escape sequences select the same character set; decoding and encoding again
    # normalises them, so a rewrite would change bytes nobody touched.
    data = b"# coding: iso2022_jp\nx = '\x1b(Jabc\x1b(B'\n"
    source = decode_source(data)
    if source.text.encode("iso2022_jp") == data:
        pytest.fail("example no longer lossy: pick another")
    with pytest.raises(SourceError, match="does not round-trip byte for byte"):
        encode_source(source.text, source)


# --- prefilter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"import httpx\n", True),
        (b"from httpx import AsyncClient as AC\n", True),
        (b"import httpx as hx\n", True),
        (b"import os, httpx\n", True),
        (b"    import httpx  # local import\n", True),
        (b"__import__('httpx')\n", False),  # the scanner resolves names through import statements only
        (b"import httpx2 as httpx\n", True),
        (b"import myhttpx\n", False),
        (b"import httpx_auth\n", False),
        (b"from mcp import ClientSession\n", False),
        (b"x = obj.httpx\n", False),
        (b"import requests\n", True),
        (b"", False),
    ],
)
def test_mentions_any(raw: bytes, expected: bool) -> None:
    assert mentions_any(raw, ("httpx", "requests")) is expected


def test_mentions_any_accepts_any_iterable_and_empty_names() -> None:
    assert mentions_any(b"import aiohttp\n", ["aiohttp"])
    assert mentions_any(b"import aiohttp\n", iter(["x", "aiohttp"]))
    assert not mentions_any(b"import aiohttp\n", ())
    assert mentions_any(b"import httpx2\n", ("httpx", "httpx2"))


def test_mentions_any_on_a_large_file_without_the_names() -> None:
    # Speed is measured in benchmarks/scan_speed.py; here only the answer on a large input.
    blob = b"def handler(request):\n    return render(request, 'page.html', {'x': 1})\n" * 20000
    names = ("httpx", "httpx2", "aiohttp", "requests", "urllib3")
    assert not mentions_any(blob, names)
    assert mentions_any(blob + b"import requests\n", names)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xef\xbb\xbfimport httpx\n", True),  # a BOM before the first import
        (b"\x0cimport httpx\n", True),  # a form feed is whitespace for Python
        (b"import os, requests\n", True),
        (b"try: import httpx\nexcept ImportError: httpx = None\n", True),
        (b"from myapp import requests\n", False),  # a module of the project called requests
        (b"requests = []\nrequests.append(1)\n", False),
    ],
)
def test_mentions_any_looks_at_import_statements(raw: bytes, expected: bool) -> None:
    assert mentions_any(raw, ("httpx", "httpx2", "aiohttp", "requests", "urllib3")) is expected

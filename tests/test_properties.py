"""Property-based tests: generated programs through the scanner and the codemod.

Two sources of programs:

* ``hypothesmith_modules()``: arbitrary valid modules (``hypothesmith.from_grammar``) with an HTTP
  client import prepended, so they pass the prefilter. Nothing in them is a client site, but every
  path of the scanner's import resolution and visitor meets odd syntax. Properties: no exception
  escapes ``analyze_source`` or the codemod, the output parses, a second fix changes nothing.
* ``client_modules()``: small modules assembled from templates of real client patterns (async with,
  with, a local closed in ``finally``, one-shots, loops, nested functions, methods, several requests,
  streams, persistent clients), with random option sets, import forms, comments, CRLF and tabs.
  Properties: every rewrite compiles, keeps every comment (only trailing comments of lines the fix
  removes may go), keeps the line endings, leaves no used name unbound, and is idempotent.

Few examples each (``max_examples`` 10-40) so the suite stays fast; ``benchmarks/sweep.py
--generated N`` draws many more from the same strategies.
"""

from __future__ import annotations

import ast
import io
import os
import re
import tokenize
from collections import Counter

import hypothesmith  # a test dependency: never skipped
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.source import decode_source
from tests.test_fix_fixtures import fix_bytes

FAST = settings(
    # CI replays the same examples every run, so a landing never depends on luck; on a developer's
    # machine (and in benchmarks/sweep.py --generated) the search is random and wider.
    derandomize=bool(os.environ.get("CI")),
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

IMPORT_LINES = (
    "import httpx\n",
    "import httpx as hx\n",
    "from httpx import AsyncClient, Client\n",
    "import requests\n",
    "import aiohttp\n",
    "import httpx2 as httpx\n",
)


# --------------------------------------------------------------------------------------------------
# Strategies


TRAILERS = (
    "",
    "\n\nasync def _pool_refactor_probe(url):\n"
    "    async with httpx.AsyncClient(timeout=3.0) as client:\n"
    "        return (await client.get(url)).text\n",
    "\n\ndef _pool_refactor_probe_sync(url):\n    return httpx.get(url, verify=False).text\n",
)


def _compiles(text: str) -> bool:
    try:
        compile(text, "generated.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


@st.composite
def hypothesmith_modules(draw: st.DrawFn) -> bytes:
    """An arbitrary valid module with a client import in front and, sometimes, a fixable site after it.

    The trailer makes the codemod run over the arbitrary code too (it rewrites the whole module).
    A body that starts with ``from __future__`` cannot take an import in front; such draws are
    rejected (``compile`` decides).
    """
    body: str = draw(hypothesmith.from_grammar())
    header = draw(st.sampled_from(IMPORT_LINES))
    trailer = draw(st.sampled_from(TRAILERS)) if header == "import httpx\n" else ""
    if body and not body.endswith(("\n", "\r")):
        body += "\n"
    text = header + body + trailer
    if not _compiles(text):
        text = header + trailer
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates in a string literal: not a file anyone can save
        reject()
        raise AssertionError("unreachable") from None


_KEEP = "k"  # marker of comments that must survive
_MAY_GO = "r"  # marker of trailing comments on lines a fix may remove

HTTPX_REQUEST_OPTIONS = {
    "timeout": ("10.0", "timeout", "{M}.Timeout(5.0, connect=2.0)", "None"),
    "headers": ('{"X-Api-Key": "k"}', '{"Authorization": f"Bearer {token}"}', "headers"),
    "params": ('{"q": "x"}', "params"),
    "follow_redirects": ("True", "False"),
    "auth": ("(user, password)",),
    "cookies": ('{"session": "s"}',),
}
HTTPX_CLIENT_OPTIONS = {
    "verify": ("False", "True", "ctx"),
    "http2": ("True",),
    "base_url": ('"https://api.example.com"', "base"),
    "trust_env": ("False",),
    "limits": ("{M}.Limits(max_connections=5)",),
    "transport": ("transport",),
}


class _Builder:
    """Lines of a module with generated comments; renders with a chosen indent and line ending."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str, str | None]] = []  # (depth, code, kind of trailing comment)
        self.counter = 0

    def marker(self, kind: str) -> str:
        self.counter += 1
        return f"# {kind}{self.counter}"

    def add(self, depth: int, code: str, trailing: str | None = None) -> None:
        self.lines.append((depth, code, trailing))

    def render(self, draw: st.DrawFn, indent: str, newline: str) -> str:
        out: list[str] = []
        for depth, code, trailing in self.lines:
            pad = indent * depth
            if code and draw(st.integers(0, 9)) == 0:  # an own-line comment above the line
                out.append(f"{pad}{self.marker(_KEEP)} about the next line")
            text = pad + code if code else ""
            if code and trailing is not None and draw(st.integers(0, 3)) == 0:
                text += f"  {self.marker(trailing)}"
            out.append(text)
        return newline.join(out) + newline


def _options(draw: st.DrawFn, pool: dict[str, tuple[str, ...]], module: str, max_size: int) -> list[str]:
    names = draw(st.lists(st.sampled_from(sorted(pool)), unique=True, max_size=max_size))
    return [f"{name}={draw(st.sampled_from(pool[name])).replace('{M}', module)}" for name in names]


def _call(builder: _Builder, draw: st.DrawFn, depth: int, head: str, args: list[str], tail: str) -> None:
    """``head(args)tail`` on one line, or one argument per line with comments."""
    if len(args) >= 1 and draw(st.booleans()):
        builder.add(depth, f"{head}(", _KEEP)
        for arg in args:
            builder.add(depth + 1, f"{arg},", _KEEP)
        builder.add(depth, f"){tail}", _KEEP)
    else:
        builder.add(depth, f"{head}({', '.join(args)}){tail}", _KEEP)


def _httpx_function(
    draw: st.DrawFn, builder: _Builder, depth: int, index: int, names: dict[str, str]
) -> None:
    kind = draw(
        st.sampled_from(
            (
                "async_with",
                "with",
                "local_async",
                "local_sync",
                "one_shot",
                "one_shot_async",
                "loop",
                "nested",
                "two_requests",
                "stream",
                "persistent",
                "escapes",
            )
        )
    )
    module = names["module"]
    async_client, sync_client = names["AsyncClient"], names["Client"]
    params = (
        "url, token=None, timeout=None, headers=None, params=None, user=None, password=None, "
        "ctx=None, base=None, transport=None, urls=()"
    )
    options = _options(draw, HTTPX_REQUEST_OPTIONS, module, 3)
    options += _options(draw, HTTPX_CLIENT_OPTIONS, module, 1)
    request_options = _options(draw, HTTPX_REQUEST_OPTIONS, module, 1)
    request_args = ", ".join(["url", *request_options])
    method = draw(st.sampled_from(("get", "post", "put", "delete", "head", "request")))
    if method == "request":
        request_args = '"GET", ' + request_args
    if kind in ("async_with", "loop", "two_requests", "stream"):
        builder.add(depth, f"async def fetch_{index}({params}):", _KEEP)
        inner = depth + 1
        if kind == "loop":
            builder.add(inner, "results = []", _KEEP)
            builder.add(inner, "for url in urls:", _KEEP)
            inner += 1
        _call(builder, draw, inner, f"async with {async_client}", options, " as client:")
        if kind == "stream":
            builder.add(inner + 1, 'async with client.stream("GET", url) as response:', _KEEP)
            builder.add(inner + 2, "data = await response.aread()", _KEEP)
            builder.add(inner + 1, "return data", _KEEP)
            return
        _call(builder, draw, inner + 1, f"response = await client.{method}", request_args.split(", "), "")
        if kind == "two_requests":
            builder.add(inner + 1, "response = await client.get(url)", _KEEP)
        if kind == "loop":
            builder.add(inner + 1, "results.append(response.text)", _KEEP)
            builder.add(depth + 1, "return results", _KEEP)
        else:
            builder.add(inner + 1, "return response.json()", _KEEP)
    elif kind == "with":
        builder.add(depth, f"def fetch_{index}({params}):", _KEEP)
        _call(builder, draw, depth + 1, f"with {sync_client}", options, " as client:")
        builder.add(depth + 2, f"return client.{method}({request_args}).text", _KEEP)
    elif kind in ("local_async", "local_sync"):
        is_async = kind == "local_async"
        builder.add(depth, f"{'async ' if is_async else ''}def fetch_{index}({params}):", _KEEP)
        _call(builder, draw, depth + 1, f"client = {async_client if is_async else sync_client}", options, "")
        builder.add(depth + 1, "try:", _MAY_GO)
        awaited = "await " if is_async else ""
        builder.add(depth + 2, f"response = {awaited}client.{method}({request_args})", _KEEP)
        builder.add(depth + 2, "return response.text", _KEEP)
        builder.add(depth + 1, "finally:", _MAY_GO)
        builder.add(depth + 2, f"{awaited}client.{'aclose' if is_async else 'close'}()", _MAY_GO)
    elif kind in ("one_shot", "one_shot_async"):
        prefix = "async " if kind == "one_shot_async" else ""
        builder.add(depth, f"{prefix}def fetch_{index}({params}):", _KEEP)
        one_shot_options = _options(draw, {**HTTPX_REQUEST_OPTIONS, "verify": ("False",)}, module, 2)
        call_method = method if method != "request" else "get"
        _call(builder, draw, depth + 1, f"response = {module}.{call_method}", ["url", *one_shot_options], "")
        builder.add(depth + 1, "return response.text", _KEEP)
    elif kind == "nested":
        builder.add(depth, f"def outer_{index}({params}):", _KEEP)
        builder.add(depth + 1, "async def inner():", _KEEP)
        _call(builder, draw, depth + 2, f"async with {async_client}", options, " as client:")
        builder.add(depth + 3, f"return (await client.{method}({request_args})).text", _KEEP)
        builder.add(depth + 1, "return inner", _KEEP)
    elif kind == "persistent":
        _call(builder, draw, depth, f"CLIENT_{index} = {async_client}", options, "")
    else:  # a client that escapes: must be left alone
        builder.add(depth, f"def make_{index}({params}):", _KEEP)
        builder.add(depth + 1, f"client = {sync_client}()", _KEEP)
        builder.add(depth + 1, "return client", _KEEP)


def _other_function(draw: st.DrawFn, builder: _Builder, depth: int, index: int, library: str) -> None:
    if library == "requests":
        kind = draw(st.sampled_from(("with", "one_shot", "local")))
        builder.add(depth, f"def call_{index}(url, timeout=5):", _KEEP)
        if kind == "with":
            builder.add(depth + 1, "with requests.Session() as session:", _KEEP)
            builder.add(depth + 2, "return session.get(url, timeout=timeout).json()", _KEEP)
        elif kind == "one_shot":
            builder.add(depth + 1, "return requests.post(url, json={}, timeout=timeout).status_code", _KEEP)
        else:
            builder.add(depth + 1, "session = requests.Session()", _KEEP)
            builder.add(depth + 1, "try:", _MAY_GO)
            builder.add(depth + 2, "return session.get(url).text", _KEEP)
            builder.add(depth + 1, "finally:", _MAY_GO)
            builder.add(depth + 2, "session.close()", _MAY_GO)
    else:
        builder.add(depth, f"async def call_{index}(url):", _KEEP)
        builder.add(depth + 1, "async with aiohttp.ClientSession() as session:", _KEEP)
        builder.add(depth + 2, "async with session.get(url) as response:", _KEEP)
        builder.add(depth + 3, "return await response.text()", _KEEP)


@st.composite
def client_modules(draw: st.DrawFn) -> bytes:
    """A small module of real client patterns, with comments, CRLF or LF, spaces or tabs."""
    builder = _Builder()
    form = draw(st.sampled_from(("import", "alias", "from", "local", "httpx2")))
    names = {"module": "httpx", "AsyncClient": "httpx.AsyncClient", "Client": "httpx.Client"}
    if draw(st.booleans()):
        builder.add(0, '"""A module of a service that calls an API."""', None)
        builder.add(0, "", None)
    if draw(st.booleans()):
        builder.add(0, "from __future__ import annotations", _KEEP)
        builder.add(0, "", None)
    builder.add(0, "import logging", _KEEP)
    if form == "alias":
        builder.add(0, "import httpx as hx", _MAY_GO)
        names = {"module": "hx", "AsyncClient": "hx.AsyncClient", "Client": "hx.Client"}
    elif form == "from":
        builder.add(0, "import httpx", _MAY_GO)
        builder.add(0, "from httpx import AsyncClient, Client", _MAY_GO)
        names = {"module": "httpx", "AsyncClient": "AsyncClient", "Client": "Client"}
    elif form == "httpx2":
        builder.add(0, "import httpx2 as httpx", _MAY_GO)
    elif form == "import":
        builder.add(0, "import httpx", _MAY_GO)
    others = draw(st.lists(st.sampled_from(("requests", "aiohttp")), unique=True, max_size=1))
    for library in others:
        builder.add(0, f"import {library}", _MAY_GO)
    builder.add(0, "", None)
    builder.add(0, "log = logging.getLogger(__name__)", _KEEP)
    count = draw(st.integers(1, 3))
    for index in range(count):
        builder.add(0, "", None)
        builder.add(0, "", None)
        in_class = draw(st.integers(0, 4)) == 0
        depth = 0
        if in_class:
            builder.add(0, f"class Service{index}:", _KEEP)
            depth = 1
        if form == "local":
            # A function-local import: the function's first statement.
            start = len(builder.lines)
            _httpx_function(draw, builder, depth, index, names)
            head_depth = builder.lines[start][0]
            if builder.lines[start][1].startswith(("def ", "async def ")):
                builder.lines.insert(start + 1, (head_depth + 1, "import httpx", _MAY_GO))
            else:
                builder.lines.insert(start, (head_depth, "import httpx", _MAY_GO))
        else:
            _httpx_function(draw, builder, depth, index, names)
        if in_class:
            # methods take self
            for position in range(len(builder.lines) - 1, -1, -1):
                d, code, trailing = builder.lines[position]
                if d == 1 and re.match(r"(async )?def \w+\(", code):
                    builder.lines[position] = (d, code.replace("(", "(self, ", 1), trailing)
                if code.startswith("class Service"):
                    break
    for index, library in enumerate(others):
        builder.add(0, "", None)
        builder.add(0, "", None)
        _other_function(draw, builder, 0, index, library)
    indent = draw(st.sampled_from(("    ", "\t", "  ")))
    newline = draw(st.sampled_from(("\n", "\r\n")))
    text = builder.render(draw, indent, newline)
    if draw(st.integers(0, 5)) == 0:
        text = "# -*- coding: utf-8 -*-" + newline + text
    data = text.encode("utf-8")
    if draw(st.integers(0, 7)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data


# --------------------------------------------------------------------------------------------------
# Helpers


def comments(text: str) -> Counter[str]:
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return Counter(tok.string.strip() for tok in tokens if tok.type == tokenize.COMMENT)


def unbound_names(text: str, watched: set[str]) -> set[str]:
    """Watched names that are read somewhere but bound nowhere in the module (imports, defs, ...)."""
    tree = ast.parse(text)
    bound: set[str] = set()
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else read).add(node.id)
    return (read - bound) & watched


WATCHED = {
    "httpx",
    "hx",
    "AsyncClient",
    "Client",
    "requests",
    "aiohttp",
    "get_http_client",
    "get_sync_http_client",
    "get_requests_session",
    "get_aiohttp_session",
}


def check_rewrite(original: bytes, unsafe: bool) -> bytes:
    output, _reasons = fix_bytes(original, unsafe)
    if output == original:
        return output
    before = decode_source(original)
    after = decode_source(output)
    assert after.has_bom == before.has_bom
    compile(after.text, "output.py", "exec", dont_inherit=True)
    # Line endings: a CRLF file gets no bare LF, an LF file no CR.
    if before.newline == "\r\n":
        assert "\n" not in after.text.replace("\r\n", ""), "bare LF in a CRLF file"
    else:
        assert "\r" not in after.text, "CR in an LF file"
    lost = comments(before.text) - comments(after.text)
    kept_lost = [c for c in lost if not c.startswith(f"# {_MAY_GO}")]
    assert not kept_lost, f"comments lost: {kept_lost}"
    added = comments(after.text) - comments(before.text)
    assert not added, f"comments duplicated or invented: {list(added)}"
    missing = unbound_names(after.text, WATCHED) - unbound_names(before.text, WATCHED)
    assert not missing, f"names used but no longer bound: {missing}"
    again, _ = fix_bytes(output, unsafe)
    assert again == output, "a second fix must change nothing"
    return output


# --------------------------------------------------------------------------------------------------
# Properties


@settings(FAST, max_examples=10)
@given(hypothesmith_modules())
def test_arbitrary_modules_never_crash_the_scanner_or_codemod(data: bytes) -> None:
    text = decode_source(data).text
    analyze_source(text, "generated.py")  # must not raise for valid source
    output, _ = fix_bytes(data, unsafe=True)
    ast.parse(decode_source(output).text)
    again, _ = fix_bytes(output, unsafe=True)
    assert again == output


@settings(FAST, max_examples=40)
@given(client_modules(), st.booleans())
def test_client_pattern_rewrites_compile_keep_comments_and_converge(data: bytes, unsafe: bool) -> None:
    check_rewrite(data, unsafe)


@settings(FAST, max_examples=30)
@given(client_modules())
def test_client_pattern_findings_point_at_real_calls(data: bytes) -> None:
    text = decode_source(data).text
    lines = text.splitlines()
    for finding in analyze_source(text, "generated.py"):
        line = lines[finding.line - 1]
        assert 1 <= finding.column <= len(line) + 1
        assert finding.end_line >= finding.line
        if finding.verdict in ("per-request", "leak") and not finding.fixable:
            assert finding.reason, f"a site that is not fixed must say why: {finding}"


def test_client_modules_do_produce_rewrites() -> None:
    """The strategy is only worth something if many of its modules are actually rewritten."""
    rewritten = 0
    drawn = 0

    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(client_modules())
    def count(data: bytes) -> None:
        nonlocal rewritten, drawn
        drawn += 1
        if fix_bytes(data, unsafe=True)[0] != data:
            rewritten += 1

    count()
    assert rewritten >= drawn // 4, (rewritten, drawn)

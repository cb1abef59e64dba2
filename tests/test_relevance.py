"""The scanner walks only statements that spell a client library's names (pool_refactor.scan.relevance).

That pruning is a speed-up and nothing else: every test here either pins which lines count as
mentioning a name, or checks that the findings with pruning are exactly those of a full walk.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given, settings

from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan import names
from pool_refactor.scan.findings import Finding
from pool_refactor.scan.relevance import Everything, Relevance
from pool_refactor.scan.source import decode_source
from tests.test_properties import FAST, client_modules

FIXTURES = Path(__file__).parent / "fixtures"


def lines(text: str, *words: str) -> list[int]:
    return Relevance(text, words)._lines


def test_only_whole_identifiers_count() -> None:
    text = "import httpx\nhttpx_util = 1\nmy_httpx = 2\nimport httpx2\nx = httpx.get\n# httpx in a comment\n"
    assert lines(text, "httpx") == [1, 5, 6]
    assert lines(text, "httpx2") == [4]
    assert lines(text, "httpx", "httpx2") == [1, 4, 5, 6]


def test_crlf_and_lone_cr_count_as_one_line_break_each_like_the_parser() -> None:
    assert lines("a = 1\r\nb = 2\rimport httpx\r\n", "httpx") == [3]
    assert lines("a = 1\r\rimport httpx", "httpx") == [3]


def test_identifiers_are_matched_after_nfkc_folding_like_the_parser() -> None:
    text = "x = 'é'\nimport ｈｔｔｐｘ\n"
    assert ast.parse(text).body[1].names[0].name == "httpx"  # type: ignore[attr-defined]
    assert lines(text, "httpx") == [2]


def test_a_statement_is_covered_by_its_decorators_lines_too() -> None:
    tree = ast.parse("@register(httpx)\n\ndef f():\n    pass\n\nclass C:\n    pass\n")
    relevance = Relevance("@register(httpx)\n", ["httpx"])
    decorated, other = tree.body
    assert relevance.covers(decorated)
    assert not relevance.covers(other)


def test_no_words_cover_nothing_and_everything_covers_all() -> None:
    statement = ast.parse("x = 1\n").body[0]
    assert Relevance("x = 1\n", []).empty
    assert not Relevance("x = 1\n", ["httpx"]).covers(statement)
    assert Everything().covers(statement) and not Everything().empty


def test_rebinding_in_a_statement_that_never_names_the_library_still_shadows() -> None:
    # `AC` is rebound by a statement whose line spells `AC` but not `httpx`: the second pass,
    # on the names the imports bind, must keep it.
    text = (
        "from httpx import AsyncClient as AC\n"
        "\n"
        "async def handler(url):\n"
        "    AC = make_fake()\n"
        "    async with AC() as client:\n"
        "        return await client.get(url)\n"
    )
    assert analyze_source(text) == []


def test_local_client_closed_in_a_statement_that_does_not_name_the_library() -> None:
    text = (
        "import httpx\n"
        "\n"
        "def fetch(url):\n"
        "    client = httpx.Client()\n"
        "    try:\n"
        "        return client.get(url).text\n"
        "    finally:\n"
        "        client.close()\n"
    )
    [finding] = analyze_source(text)
    assert (finding.code, finding.fixable) == ("POOL102", True)


SUBCLASSES = (
    "import httpx\n"
    "\n"
    "def users():\n"
    "    with Admin() as client:\n"  # spells only `Admin`, defined below through `APIClient`
    "        return client.get('/users')\n"
    "\n"
    "def shadowed():\n"
    "    APIClient = dict\n"  # spells only `APIClient`: a local, not the class
    "    with APIClient() as client:\n"
    "        return client.get('/')\n"
    "\n"
    "class APIClient(httpx.Client):\n"
    "    retries = 3\n"  # adds something: its sites are not rewritten
    "\n"
    "class Admin(APIClient):\n"  # spells no import at all
    "    pass\n"
)


def test_a_subclass_is_found_where_only_its_name_is_spelled(monkeypatch: pytest.MonkeyPatch) -> None:
    pruned, full = _scan_both(SUBCLASSES, monkeypatch)
    assert pruned == full
    assert [(f.line, f.code, f.context) for f in pruned] == [(4, "POOL101", "users")]
    assert "`Admin` subclasses `httpx.Client` (through `APIClient`)" in pruned[0].reason


def _full_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "Relevance", lambda text, words: Everything())


def _scan_both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Finding], list[Finding]]:
    pruned = analyze_source(text, "m.py")
    with monkeypatch.context() as patch:
        _full_walk(patch)
        full = analyze_source(text, "m.py")
    return pruned, full


SOURCES = sorted(
    [*FIXTURES.glob("scan/*.py"), *FIXTURES.glob("fix/*/input.py"), *FIXTURES.glob("e2e*/**/*.py")]
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_pruned_scan_equals_full_walk_on_every_fixture(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = decode_source(path.read_bytes()).text
    pruned, full = _scan_both(text, monkeypatch)
    assert pruned == full


def test_the_fixtures_compared_do_hold_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    total = sum(len(analyze_source(decode_source(p.read_bytes()).text, "m.py")) for p in SOURCES)
    assert len(SOURCES) > 100 and total > 250


@settings(FAST, max_examples=30)
@given(client_modules())
def test_pruned_scan_equals_full_walk_on_generated_modules(data: bytes) -> None:
    text = decode_source(data).text
    with pytest.MonkeyPatch.context() as patch:
        pruned, full = _scan_both(text, patch)
    assert pruned == full

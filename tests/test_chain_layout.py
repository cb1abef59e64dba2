"""Rewritten call chains laid out as ruff and black lay them out (`codemods.wrapping._chain_layout`).

`requests.get(url).json()` is one call after a name; `get_requests_session().get(url).json()` is two
after a call, which the formatters lay out fluently once it does not fit: the value inside
parentheses, else one `.method(...)` per line (found on beets and zulip-bots by the real-projects
loop). Each case is checked against `ruff format` itself at several line lengths and depths.
"""

from __future__ import annotations

import libcst as cst
import pytest

from codemods.wrapping import original_lines, wrap_long_lines
from tests.formatters import ruff_format

PARAMETERS = "self, url, tracks_obj, text, channel, query, offset, base"

CHAINS = [
    'tracks_obj = get_requests_session().get(tracks_obj["next"], timeout=10).json()',
    'other = get_requests_session().get(self.domain + "/x/y/z", headers={"A": self.auth}).json()',
    'return get_requests_session().post(url, json={"text": text, "channel": channel}, timeout=9).json()["ok"]',  # noqa: E501
    "data = get_requests_session().get(url).json()",
    'response = get_requests_session().get(self.server_url + "/api/resource/long/path", timeout=10).json()["items"]',  # noqa: E501
    'x = get_http_client(verify=False).get(url, params={"q": query, "limit": 100, "offset": offset}).json().get("a", [])',  # noqa: E501
]
CHAINS += [
    'get_requests_session().post(self.webhook_url, json={"text": text, "channel": channel}).raise_for_status()',  # noqa: E501
    "get_requests_session().post(url, json=text, timeout=self.timeout_seconds).raise_for_status()",
    'data: dict[str, object] = get_requests_session().get(self.server_url + "/api/items", timeout=10).json()',  # noqa: E501
    'offset += get_requests_session().get(self.server_url + "/api/items/count", timeout=10).json()["n"]',  # noqa: E501
]
"""Expression statements (split at their last call with arguments, never put in parentheses),
annotated and augmented assignments (in parentheses, as plain ones)."""
LEFT_AS_IT_IS = 'data = get_requests_session().get(base + f"/rest/api/2/search?jql={query}&fields=key,summary,status,assignee,reporter", headers={"Authorization": self.auth}).json()'  # noqa: E501
"""An argument that only splits at its `+`: not a layout `_layout` makes, so the line stays long."""


def _wrapped(source: str, limit: int, original: str = "") -> str:
    module = cst.parse_module(source)
    lines = original_lines(original)
    return module.with_changes(body=[wrap_long_lines(s, module, limit, lines) for s in module.body]).code


def _nested(statement: str, depth: int) -> str:
    heads = "".join("    " * level + f"def f({PARAMETERS}):\n" for level in range(depth))
    return heads + "    " * depth + statement + "\n"


@pytest.mark.parametrize("limit", [79, 88, 120])
@pytest.mark.parametrize("depth", [1, 3])
def test_rewritten_chains_are_laid_out_as_ruff_does(limit: int, depth: int) -> None:
    source = "\n\n".join(_nested(statement, depth) for statement in CHAINS)
    wrapped = _wrapped(source, limit)
    assert ruff_format(wrapped, limit) == wrapped


@pytest.mark.parametrize("limit", [79, 88])
def test_a_chain_whose_argument_splits_at_an_operator_is_left_as_it_is(limit: int) -> None:
    source = _nested(LEFT_AS_IT_IS, 2)
    assert _wrapped(source, limit) == source
    assert ruff_format(source, limit) != source  # the formatter would still change it: a known gap


def test_an_exploded_call_keeps_its_lines_one_level_in() -> None:
    """The project had `requests.get(` with its arguments exploded (a magic trailing comma): the
    chain becomes fluent and the arguments keep their lines, one level deeper."""
    source = (
        "class Jira:\n"
        "    def search(self, query: str) -> str:\n"
        "        response = get_requests_session().get(\n"
        "            self.domain\n"
        '            + f"/rest/api/2/search?jql={query}&fields=key,summary,status,assignee",\n'
        '            headers={"Authorization": self.auth},\n'
        "        ).json()\n"
        "        return response\n"
    )
    original = source.replace("get_requests_session()", "requests")
    wrapped = _wrapped(source, 88, original)
    assert wrapped != source
    assert ruff_format(wrapped, 88) == wrapped
    assert ruff_format(original, 88) == original  # the project's own code was formatted


def test_the_projects_own_chain_and_a_single_call_are_not_touched() -> None:
    own = _nested('data = make_session().get(base + "/a/very/long/path/to/somewhere", timeout=10).json()', 1)
    assert _wrapped(own, 79, own) == own
    single = _nested("response = get_requests_session().get(url)", 1)
    assert _wrapped(single, 79) == single

"""`--fix-tests` lays out the patch lines it lengthens as ruff and black lay them out.

`patch("requests.post")` becomes `patch("requests.Session.post")`: eight characters more, and a line
that fitted the project's line length may no longer fit (apprise: 8 E501 at 79 columns and 7 files
that `ruff format` would change). Each rewritten file is checked against `ruff format` itself at two
line lengths and two targets; the shapes whose layout is not certain stay as they were written.
"""

from __future__ import annotations

import pytest

from pool_refactor.fix.mock_fixes import rewrite_test
from pool_refactor.fix.mocks import MockWarning, PatchEdit
from tests.formatters import ruff_format

TESTS = """\
import requests
from unittest import mock


class TestNotify:
    def test_one(self, mocker):
        with mock.patch("requests.post", return_value=make_response({}, code=500)):
            pass
        with mock.patch("requests.post", side_effect=ok_response) as mock_post_call:
            pass
        with (
            mock.patch("requests.post", side_effect=ok_response) as post_request,
            mock.patch("apprise.plugins.base.time.sleep"),
            mock.patch("requests.request", side_effect=NotImplementedError()),
        ):
            pass
        mock_post: mock.Mock = mocker.patch("requests.post", side_effect=fake_post)
        mock_post = mocker.patch("requests.post", side_effect=fake_post_function)
        mocker.patch("requests.post", side_effect=fake_post_function_with_long_name)
        patches = [
            mock.patch("requests.post", return_value=response_object_name_x),
            mock.patch("requests.get", return_value=response_object_name_xyz),
        ]
        other = dict(
            first=mock.patch("requests.post", return_value=response_object_nam),
        )
        with mock.patch("requests.post", return_value=make_response({"a": 1}, code=500, headers={"x": "y"}), side_effect=0):
            pass

    @mock.patch("requests.post", return_value=make_response({}, code=500), autospec=True)
    def test_two(self, post):
        pass
"""  # noqa: E501

LEFT_AS_WRITTEN = [
    # several with items on one line: the formatters put them in parentheses
    '        with mock.patch("requests.post", return_value=resp_a) as a, mock.patch("x") as b:\n',
    # an operator before the call
    '        patched = started + mock.patch("requests.post", return_value=response_object_x).start()\n',
    # a comment on the line
    '        with mock.patch("requests.post", side_effect=ok_response) as post:  # why\n',
    # an argument that only fits split itself
    '        with mock.patch("requests.post", side_effect=None, return_value=make_response({"aaaa": 1, "bbbbbbbbbbbbbbbbbb": 2}, code=500, headers={"x": "y"})):\n',  # noqa: E501
]


SITES = {
    f"{function}|requests.{name}": PatchEdit(f"requests.Session.{name}")
    for function in ("mock.patch", "mocker.patch")
    for name in ("post", "get", "request")
}
"""What `fix.mocks` finds in such a suite: each patch of a one-shot function and its edit."""


def _warnings() -> list[MockWarning]:
    return [
        MockWarning("tests/test_x.py", 1, site.split("|")[1], "", edit, site) for site, edit in SITES.items()
    ]


@pytest.mark.parametrize("limit", [79, 88])
@pytest.mark.parametrize("target", ["py39", "py313"])
def test_lengthened_patch_lines_are_laid_out_as_ruff_does(limit: int, target: str) -> None:
    rewritten = rewrite_test(TESTS, _warnings(), limit)
    assert rewritten is not None
    text = rewritten.new_text
    assert "requests.Session.post" in text and '"requests.post"' not in text
    assert ruff_format(text, limit, "--target-version", target) == text
    assert max(len(line) for line in text.splitlines()) <= limit


def test_without_a_line_length_the_lines_stay_long() -> None:
    rewritten = rewrite_test(TESTS, _warnings())
    assert rewritten is not None
    assert rewritten.new_text == TESTS.replace('"requests.', '"requests.Session.')


@pytest.mark.parametrize("line", LEFT_AS_WRITTEN)
def test_lines_whose_layout_is_not_certain_stay_as_they_are(line: str) -> None:
    source = f"def test_x():\n{line}" + (
        "            pass\n" if line.split("#")[0].rstrip().endswith(":") else ""
    )
    rewritten = rewrite_test(source, _warnings(), 79)
    assert rewritten is not None
    assert rewritten.new_text == source.replace('"requests.post"', '"requests.Session.post"')


def test_the_projects_own_long_lines_are_not_touched() -> None:
    own = '    with mock.patch("shop.very.long.module.path.function", return_value=make_response({})):\n'
    source = f'def test_x():\n{own}        pass\n    mock.patch("requests.post")\n'
    rewritten = rewrite_test(source, _warnings(), 79)
    assert rewritten is not None
    assert own in rewritten.new_text

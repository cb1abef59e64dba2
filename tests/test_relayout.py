"""Statements the fix only moved (a `with` block's body dedented) are laid out again the way
black lays them out at their new indentation, so `black --check`/`ruff format --check` stay green
on the lines the fix touched (found on opsdroid by the real-projects loop); anything the layout
rules cannot settle is left exactly as the project wrote it."""

from __future__ import annotations

import black
import libcst as cst
import pytest

from codemods.wrapping import wrap_long_lines

SOURCE = """\
class Connector:
    async def send(self, message, payload, argument, url):
        if message:
            async with make() as session:
                resp = await session.post(self.build_url("setWebhook/v1"), params=payload)
                if resp.status == 201:
                    _LOGGER.info(_(f"Message '{message.text}' sent to GitLab to '{message.target}'."))
                kept = call_with_a_magic_trailing_comma(argument,)
                listed = [
                    argument,  # the project's comment
                ]
                many = await session.request(
                    "POST", self.build_url("an/endpoint/with/a/long/path"), json={"key": "value"}
                )
                await session.put(url, data=payload, headers={"X-Header": "a value"}, timeout=10)
"""


def moved(source: str) -> str:
    """`source` as the fix leaves it: the `with` line replaced, its body 4 columns to the left."""
    lines = source.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "async with" in line)
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end].startswith(" " * (indent + 1))):
        end += 1
    body = [line[4:] if line.strip() else line for line in lines[start + 1 : end]]
    session = " " * indent + "session = get_aiohttp_session(trust_env=True)\n"
    return "".join([*lines[:start], session, *body, *lines[end:]])


def relaid(after: str, before: str, limit: int = 88) -> str:
    module = cst.parse_module(after)
    return module.with_changes(body=[wrap_long_lines(module.body[0], module, limit, before)]).code


@pytest.mark.parametrize("limit", [60, 79, 88, 100, 120])
def test_moved_statements_are_what_black_makes_of_them(limit: int) -> None:
    before = black.format_str(SOURCE, mode=black.Mode(line_length=limit))
    result = relaid(moved(before), before, limit)
    # black's own verdict on the whole file, statements this code does not lay out included (the
    # magic trailing comma and the comment stay as they are, and black keeps them too)
    assert black.format_str(result, mode=black.Mode(line_length=limit)) == result


def test_the_shapes_found_on_opsdroid() -> None:
    before = black.format_str(SOURCE, mode=black.Mode())
    assert "resp = await session.post(\n" in before
    result = relaid(moved(before), before)
    assert result != moved(before)
    assert 'resp = await session.post(self.build_url("setWebhook/v1"), params=payload)' in result
    assert (
        "                _LOGGER.info(\n"
        "                    _(f\"Message '{message.text}' sent to GitLab to '{message.target}'.\")\n"
        "                )\n"
    ) in result


def test_statements_not_moved_are_left_alone() -> None:
    """A statement at the indentation it had is the project's business, however it is laid out."""
    source = "def f():\n    x = call(\n        a\n    )\n    y = 1\n"
    rewritten = "def f():\n    x = call(\n        a\n    )\n    y = 2\n"
    assert relaid(rewritten, source) == rewritten


def test_a_layout_black_would_not_have_made_is_left_alone() -> None:
    """The project does not format with black: its split is kept, moved or not."""
    before = "def f():\n    with c() as s:\n        x = s.get(\n            a, b\n        )\n"
    after = "def f():\n    s = get()\n    x = s.get(\n        a, b\n    )\n"
    assert relaid(after, before) == after

"""The rule codes: stable identifiers used in reports, `# noqa:` comments and `--select`.

Codes never change meaning once published; a new situation gets a new code. Each code has a page
under `pool_refactor/docs/rules/<CODE>.md` with what it flags, why it matters and the fix. The
hundreds follow the verdict (0xx persistent, 1xx per request, 2xx leak, 3xx unclear), so a prefix
such as `--select POOL1` keeps meaning one verdict.
"""

from __future__ import annotations

from typing import NamedTuple

from pool_refactor.scan.findings import Verdict


class Rule(NamedTuple):
    code: str
    name: str
    verdict: Verdict
    summary: str


RULES: tuple[Rule, ...] = (
    Rule(
        "POOL001",
        "persistent-client",
        Verdict.PERSISTENT,
        "Client kept for the life of an object, module or application (already right).",
    ),
    Rule(
        "POOL002",
        "connection-scoped-client",
        Verdict.PERSISTENT,
        "Client held for the life of one long-lived connection (websocket, endless stream): not per request.",
    ),
    Rule(
        "POOL101",
        "client-per-request-with",
        Verdict.PER_REQUEST,
        "`with`/`async with` client inside a function: a new pool, TLS context and handshake per call.",
    ),
    Rule(
        "POOL102",
        "client-per-request-local",
        Verdict.PER_REQUEST,
        "Client assigned to a local and closed in the same function: a new pool per call.",
    ),
    Rule(
        "POOL103",
        "one-shot-request",
        Verdict.PER_REQUEST,
        "Module-level request function (`httpx.get`, ...) inside a function builds a client per call.",
    ),
    Rule(
        "POOL201",
        "client-leak",
        Verdict.LEAK,
        "Client created and never closed: its connections and sockets leak on every call.",
    ),
    Rule(
        "POOL301",
        "client-factory",
        Verdict.UNCLEAR,
        "Function returns a new client on every call; its callers decide how often that is.",
    ),
    Rule(
        "POOL302",
        "client-lifetime-unclear",
        Verdict.UNCLEAR,
        "Client whose lifetime cannot be told from the code (handed to other code, stored late, ...).",
    ),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def matches(code: str, selectors: tuple[str, ...]) -> bool:
    """Whether `code` is named by any selector: a full code, a prefix (`POOL1`) or `ALL`."""
    return any(sel == "ALL" or code.startswith(sel) for sel in selectors)


def is_enabled(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    if select and not matches(code, select):
        return False
    return not matches(code, ignore)

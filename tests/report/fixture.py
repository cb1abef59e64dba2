"""A realistic scan result, built by hand, shared by the report tests.

Five files: per-request sites in and outside loops (one not fixable, one fixable only as an unsafe
fix), a leak, an unclear factory, two persistent clients, a suppressed one-shot, and a file that
could not be scanned.
"""

from __future__ import annotations

from pool_refactor.scan.findings import Applicability, FileError, Finding, ScanResult, Verdict


def finding(
    path: str,
    line: int,
    column: int,
    code: str,
    verdict: Verdict,
    context: str,
    snippet: str,
    message: str,
    *,
    end_line: int | None = None,
    in_loop: bool = False,
    fixable: bool = False,
    reason: str = "",
    applicability: Applicability = Applicability.NONE,
    suppressed: bool = False,
    library: str = "httpx",
) -> Finding:
    return Finding(
        path=path,
        line=line,
        column=column,
        end_line=line if end_line is None else end_line,
        code=code,
        library=library,
        verdict=verdict,
        in_loop=in_loop,
        context=context,
        snippet=snippet,
        fixable=fixable,
        reason=reason,
        message=message,
        applicability=applicability,
        suppressed=suppressed,
    )


PER = Verdict.PER_REQUEST


def realistic_result() -> ScanResult:
    findings = [
        finding(
            "app/api/users.py",
            45,
            16,
            "POOL101",
            PER,
            "get_user",
            'async with httpx.AsyncClient(\n    timeout=10.0, headers={"Authorization": f"Bearer {token}"}\n'
            ") as client:",
            "New httpx.AsyncClient for every call of `get_user`: a new pool, TLS context and handshake "
            "per call.",
            end_line=47,
            fixable=True,
            applicability=Applicability.SAFE,
        ),
        finding(
            "app/api/users.py",
            103,
            24,
            "POOL101",
            PER,
            "UserApi.fetch_all",
            "async with httpx.AsyncClient() as client:",
            "New httpx.AsyncClient on every loop iteration in `UserApi.fetch_all`.",
            in_loop=True,
            fixable=True,
            applicability=Applicability.SAFE,
        ),
        finding(
            "app/api/users.py",
            161,
            20,
            "POOL103",
            PER,
            "UserApi.refresh_token",
            "httpx.post(TOKEN_URL, data=form, verify=self.ssl_context)",
            "httpx.post builds and closes a client on every call of `UserApi.refresh_token`.",
            reason="the client option `verify` has a value that is not a literal (self.ssl_context)",
        ),
        finding(
            "app/billing/client.py",
            12,
            24,
            "POOL001",
            Verdict.PERSISTENT,
            "BillingClient.__init__",
            "self._client = httpx.AsyncClient(base_url=BILLING_URL, timeout=30.0)",
            "Kept on the instance for its lifetime.",
            reason="already persistent",
        ),
        finding(
            "app/billing/client.py",
            40,
            18,
            "POOL102",
            PER,
            "BillingClient.charge",
            "client = httpx.Client(timeout=5.0)",
            "New httpx.Client per call of `BillingClient.charge`, closed at the end of it.",
            fixable=True,
            applicability=Applicability.UNSAFE,
            reason="the shared client keeps no cookies: a cookie set by one response is not sent back",
        ),
        finding(
            "app/billing/client.py",
            58,
            18,
            "POOL201",
            Verdict.LEAK,
            "BillingClient.ping",
            "client = httpx.Client()",
            "httpx.Client is never closed: its connections leak on every call of `BillingClient.ping`.",
            reason="not yet supported",
        ),
        finding(
            "app/main.py",
            15,
            22,
            "POOL001",
            Verdict.PERSISTENT,
            "lifespan",
            "app.state.http = httpx.AsyncClient(limits=httpx.Limits(max_connections=100))",
            "Created once in the application's lifespan.",
            reason="already persistent",
        ),
        finding(
            "app/sdk/factory.py",
            9,
            12,
            "POOL301",
            Verdict.UNCLEAR,
            "make_client",
            "return httpx.AsyncClient(headers=headers, timeout=timeout)",
            "`make_client` returns a new httpx.AsyncClient on every call; how often it runs depends on "
            "its callers.",
            reason="factory: the callers decide how long the client lives",
        ),
        finding(
            "app/webhooks.py",
            22,
            9,
            "POOL103",
            PER,
            "send_webhooks",
            "httpx.post(url, json=payload, timeout=5.0)",
            "httpx.post builds and closes a client on every loop iteration in `send_webhooks`.",
            in_loop=True,
            fixable=True,
            applicability=Applicability.SAFE,
        ),
        finding(
            "app/webhooks.py",
            30,
            5,
            "POOL103",
            PER,
            "notify_ops",
            "httpx.post(OPS_URL, json=event)  # noqa: POOL103",
            "httpx.post builds and closes a client on every call of `notify_ops`.",
            fixable=True,
            applicability=Applicability.SAFE,
            suppressed=True,
        ),
    ]
    errors = [FileError("app/legacy/broken.py", "invalid syntax (line 3, column 9)")]
    return ScanResult(findings=findings, errors=errors, files_scanned=14, files_parsed=7)

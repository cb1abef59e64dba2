"""The application frameworks the wiring knows, as data: what builds an application, and how the
shared clients are closed at its shutdown.

Three ways, by what each framework offers:

* `starlette` (FastAPI, Starlette): a lifespan, or shutdown event handlers (see the package
  docstring for the order of preference);
* `keyword` (Litestar): a list of shutdown hooks given to the constructor, `on_shutdown=[...]`,
  appended to or added; Litestar calls a hook without parameters with no argument and awaits it;
* `register` (aiohttp, Quart, Sanic): one statement after the application is built, and after the
  statements of the same block that register the application's own handlers (the application's
  own cleanup may still send requests, and these frameworks run such handlers in the order they
  were added). aiohttp and Sanic pass the application to the handler, hence the one-argument
  `lambda`: aiohttp awaits what `on_cleanup` handlers return, and Sanic awaits a listener's result
  after calling it with the application.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str
    classes: frozenset[str]
    """The qualified names of the application class."""
    way: str
    """`starlette`, `keyword` or `register` (see the module docstring)."""
    registrations: str
    """Attributes of the application that register handlers or routes (a regular expression
    alternation): the close is registered after the last statement of the block using one."""
    register: str = ""
    """For `register`: the statement, with `{app}` and `{aclose}` to fill in."""
    keyword: str = ""
    """For `keyword`: the constructor's list of shutdown hooks."""
    hook: str = ""
    """How the close is hooked, for messages."""


FRAMEWORKS: tuple[Framework, ...] = (
    Framework(
        "FastAPI/Starlette",
        frozenset({"fastapi.FastAPI", "fastapi.applications.FastAPI", "starlette.applications.Starlette"}),
        "starlette",
        "on_event|add_event_handler|include_router|router",
    ),
    Framework(
        "aiohttp",
        frozenset({"aiohttp.web.Application", "aiohttp.web_app.Application"}),
        "register",
        "on_startup|on_shutdown|on_cleanup|cleanup_ctx|add_routes|router|add_subapp",
        register="{app}.on_cleanup.append(lambda _app: {aclose}())",
        hook="`on_cleanup` handler",
    ),
    Framework(
        "Quart",
        frozenset({"quart.Quart", "quart.app.Quart"}),
        "register",
        "before_serving|after_serving|while_serving|register_blueprint",
        register="{app}.after_serving({aclose})",
        hook="`after_serving` function",
    ),
    Framework(
        "Sanic",
        frozenset({"sanic.Sanic", "sanic.app.Sanic"}),
        "register",
        "listener|register_listener|before_server_start|after_server_start|before_server_stop"
        "|after_server_stop|blueprint",
        register='{app}.register_listener(lambda _app: {aclose}(), "after_server_stop")',
        hook="`after_server_stop` listener",
    ),
    Framework(
        "Litestar",
        frozenset({"litestar.Litestar", "litestar.app.Litestar"}),
        "keyword",
        "",
        keyword="on_shutdown",
        hook="`on_shutdown` hook",
    ),
)

BY_CLASS: dict[str, Framework] = {name: framework for framework in FRAMEWORKS for name in framework.classes}
CLASS_NAMES: tuple[str, ...] = tuple(sorted({name.rsplit(".", 1)[-1] for name in BY_CLASS}))
"""`FastAPI`, `Application`, ...: the words a file that builds an application spells."""
MODULES: tuple[str, ...] = tuple(sorted({name.split(".", 1)[0] for name in BY_CLASS}))
REGISTRATIONS: str = "|".join(sorted({f.registrations for f in FRAMEWORKS if f.registrations}))

DJANGO_ASGI = frozenset({"django.core.asgi.get_asgi_application"})
"""Django's ASGI application has no shutdown hook: the wiring says what to add instead."""

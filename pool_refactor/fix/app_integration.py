"""Fit the shared module to the application: its settings (pydantic-settings or Django) and its
metrics (prometheus_client), found by reading the package statically (issue 14, items 3 and 4).

Detection reads only the package's files whose bytes mention `pydantic_settings`,
`prometheus_client` or `django`, with the stdlib `ast`, once per `--fix` run; the result is an
`AppIntegration` for `shared_module.render`, and, for pydantic-settings, the fields to add to the
application's settings class (`settings_fields_edit`, a libcst edit).

**Why the fields are added to the settings class rather than read around it.** pydantic-settings
forbids unknown keys by default (`extra="forbid"`): with a settings class that lacks them, a
`.env` line `HTTP_CLIENT_MAX_CONNECTIONS=7` does not reach the module, it stops the application
at startup ("Extra inputs are not permitted"). Reading `.env` ourselves would bypass the
application's own sources, their precedence and its validation. So the class gets one typed
field per variable the module reads, defaulting to None (unset: the module's own default, the
same as with no variable), and the generated module reads them through the application's
settings object, imported when a client is built (never at import, so no import cycle). Each
field's `validation_alias` is the documented variable name (`HTTP_CLIENT_MAX_CONNECTIONS`, the
same name the environment fallback reads, so a deployment's variables keep their meaning); when
the class has an `env_prefix`, the prefixed name (`APP_HTTP_CLIENT_MAX_CONNECTIONS`) is accepted
too, as the class's other settings are. Django needs no edit: `getattr(settings, NAME, None)`.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import libcst as cst

from codemods.imports import (
    EditContext,
    add_import,
    apply_import_changes,
    ast_qualify,
    import_bindings,
    set_import_style,
)
from pool_refactor.fix.shared_module import NO_APP, AppIntegration, SharedModuleError, _single_quotes
from pool_refactor.fix.style import ProjectStyle

_PARSED = (b"pydantic_settings", b"prometheus_client")
"""Bytes a file must contain to be parsed at all (the prefilter)."""

_DJANGO_IMPORT = re.compile(rb"^[ \t]*(?:from|import)[ \t]+django\b", re.MULTILINE)
"""An import of Django: enough to know the settings are `django.conf.settings`, without parsing."""

_METRIC_CLASSES = frozenset(
    f"prometheus_client.{name}" for name in ("Counter", "Gauge", "Histogram", "Summary", "Info", "Enum")
)

VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("MAX_CONNECTIONS", "cap", "connections per client (unset, 0 or none: no cap)"),
    ("MAX_CONNECTIONS_PER_HOST", "cap", "aiohttp's limit_per_host (unset, 0 or none: no cap)"),
    ("MAX_KEEPALIVE", "count", "idle connections kept (unset: the library's default)"),
    ("NUM_POOLS", "count", "hosts with a pool of their own (requests, urllib3)"),
    ("KEEPALIVE_EXPIRY", "seconds", "seconds an idle connection is kept (none: no limit)"),
    ("TIMEOUT", "seconds", "request timeout in seconds (none: no limit)"),
    ("CONNECT_TIMEOUT", "seconds", "seconds to connect (unset: TIMEOUT's value)"),
    ("POOL_TIMEOUT", "seconds", "with a cap, seconds to wait for a free connection"),
    ("HTTP2", "bool", "HTTP/2 for httpx (needs the h2 package)"),
    ("RETRIES", "count", "retries of a failed connection attempt"),
    ("MAX_POOLS", "count", "option sets (pools) kept per accessor before the oldest is evicted"),
)
"""Every variable the generated module's `_env*` readers read: name, kind, description."""

_TYPES = {
    "cap": ('int | Literal["none"] | None', 'Union[int, Literal["none"], None]'),
    "count": ("int | None", "Union[int, None]"),
    "seconds": ('float | Literal["none"] | None', 'Union[float, Literal["none"], None]'),
    "bool": ("bool | None", "Union[bool, None]"),
}
"""The field types: what the module accepts, as pydantic validates it (`none`: no limit)."""


@dataclass(frozen=True)
class SettingsClass:
    """A pydantic-settings class of the package and the object that holds its values."""

    path: Path
    module: str
    class_name: str
    obj: str
    """`name` (a module-level instance) or `name()` (an accessor, such as an lru_cache'd one)."""
    env_prefix: str = ""


@dataclass
class Detected:
    """What the package uses: the integrations to render, and the settings class to complete."""

    app: AppIntegration = NO_APP
    settings_class: SettingsClass | None = None
    notes: list[str] = field(default_factory=list)


def module_name_of(path: Path, top: Path, top_name: str) -> str:
    """The dotted name of `path`, a file under the package folder `top` named `top_name` (empty
    for a script folder, whose files are top-level modules)."""
    parts = list(path.relative_to(top).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join([top_name, *parts] if top_name else parts)


def detect(files: Iterable[tuple[Path, str, bytes]]) -> Detected:
    """Read the package's files (path, dotted module name, bytes) for a settings class, Django
    and prometheus_client metrics. Only files that mention pydantic_settings or prometheus_client
    are parsed; an import of Django is found by a regular expression on the bytes."""
    settings: list[SettingsClass] = []
    django = False
    metrics: list[tuple[str | None, str | None]] = []
    uses_prometheus = False
    for path, module, data in sorted(files, key=lambda file: file[0]):
        # The expression, anchored at line starts, tries every byte (40 ms on 235 files); the word
        # it needs is found first by a substring search, which rejects nearly every file.
        django = django or (b"django" in data and _DJANGO_IMPORT.search(data) is not None)
        if not any(mention in data for mention in _PARSED):
            continue
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        statements = list(_module_level(tree.body))
        imports = [node for node in statements if isinstance(node, ast.Import | ast.ImportFrom)]
        bindings = import_bindings(imports)
        imported = {_imported_module(node) for node in imports}
        if any(name == "prometheus_client" or name.startswith("prometheus_client.") for name in imported):
            uses_prometheus = True
            metrics.extend(_metric_names(statements, bindings))
        settings.extend(_settings_classes(tree, bindings, path, module))
    detected = Detected()
    chosen = _choose_settings(settings, detected.notes)
    app = NO_APP
    if chosen is not None:
        app = AppIntegration(settings="pydantic", settings_object=f"{chosen.module}:{chosen.obj}")
        detected.settings_class = chosen
    elif django:
        app = AppIntegration(settings="django")
    if uses_prometheus:
        app = AppIntegration(app.settings, app.settings_object, "prometheus", metric_prefix(metrics))
    detected.app = _recordable(app, detected)
    return detected


def _recordable(app: AppIntegration, detected: Detected) -> AppIntegration:
    """`app` without what its header line cannot hold (a dotted path too long for 79 columns):
    that part is left out with a note, rather than failing the module."""
    settings = AppIntegration(app.settings, app.settings_object)
    metrics = AppIntegration(metrics=app.metrics, metric_prefix=app.metric_prefix)
    try:
        settings.check()
    except SharedModuleError as exc:
        detected.notes.append(f"the application's settings are not read: {exc}")
        settings, detected.settings_class = NO_APP, None
    try:
        metrics.check()
    except SharedModuleError as exc:
        detected.notes.append(f"the pools are not exported as metrics: {exc}")
        metrics = NO_APP
    return AppIntegration(settings.settings, settings.settings_object, metrics.metrics, metrics.metric_prefix)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported, through `if`/`try`/`with` blocks and
    class bodies (where imports, settings objects and metrics are made), without walking into
    functions: a whole-tree walk costs more than the parse."""
    for node in body:
        yield node
        if isinstance(node, ast.If | ast.For | ast.While):
            yield from _module_level([*node.body, *node.orelse])
        elif isinstance(node, ast.Try | ast.TryStar):
            handlers = [statement for handler in node.handlers for statement in handler.body]
            yield from _module_level([*node.body, *handlers, *node.orelse, *node.finalbody])
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _module_level(node.body)


def _imported_module(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.Import):
        return node.names[0].name
    return "." * node.level + (node.module or "")


def _settings_classes(
    tree: ast.Module, bindings: dict[str, str], path: Path, module: str
) -> list[SettingsClass]:
    """The module's pydantic-settings classes (direct subclasses of `BaseSettings`, and classes of
    the module that derive from those) that have a module-level instance or accessor."""
    classes: dict[str, str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for base in node.bases:
            qualified = ast_qualify(base, bindings)
            if qualified == "pydantic_settings.BaseSettings" or (
                isinstance(base, ast.Name) and base.id in classes
            ):
                classes[node.name] = _env_prefix(node)
                break
    found: list[SettingsClass] = []
    for node in tree.body:
        target, value = _assignment(node)
        if target is not None and isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            if value.func.id in classes:
                found.append(SettingsClass(path, module, value.func.id, target, classes[value.func.id]))
        if isinstance(node, ast.FunctionDef) and not _required_arguments(node):
            built = _returned_class(node, classes)
            if built is not None:
                found.append(SettingsClass(path, module, built, f"{node.name}()", classes[built]))
    return found


def _assignment(node: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, node.value
    return None, None


def _required_arguments(node: ast.FunctionDef) -> bool:
    arguments = node.args
    positional = [*arguments.posonlyargs, *arguments.args]
    required_keywords = [d for d in arguments.kw_defaults if d is None]
    return len(positional) > len(arguments.defaults) or bool(required_keywords)


def _returned_class(node: ast.FunctionDef, classes: dict[str, str]) -> str | None:
    """The settings class an accessor returns: `return Settings(...)`, or its annotation."""
    for inner in ast.walk(node):
        if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Call):
            func = inner.value.func
            if isinstance(func, ast.Name) and func.id in classes:
                return func.id
    returns = node.returns
    if isinstance(returns, ast.Name) and returns.id in classes:
        return returns.id
    if isinstance(returns, ast.Constant) and returns.value in classes:
        return str(returns.value)
    return None


def _env_prefix(node: ast.ClassDef) -> str:
    """The class's literal `env_prefix` (`model_config = SettingsConfigDict(env_prefix=...)` or a
    dict); empty when it has none or it is not a literal."""
    for statement in node.body:
        target, value = _assignment(statement)
        if target != "model_config" or value is None:
            continue
        if isinstance(value, ast.Call):
            for keyword in value.keywords:
                if keyword.arg == "env_prefix" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        if isinstance(value, ast.Dict):
            for key, item in zip(value.keys, value.values, strict=False):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "env_prefix"
                    and isinstance(item, ast.Constant)
                ):
                    return str(item.value)
    return ""


def _choose_settings(found: list[SettingsClass], notes: list[str]) -> SettingsClass | None:
    """One settings object: a module-level instance before an accessor, then the first by path.
    When there are several, the note names the one used."""
    if not found:
        return None
    ordered = sorted(found, key=lambda s: (s.obj.endswith("()"), str(s.path), s.obj))
    chosen = ordered[0]
    if len({(s.module, s.class_name) for s in found}) > 1:
        others = ", ".join(
            sorted({f"{s.module}.{s.class_name}" for s in found} - {f"{chosen.module}.{chosen.class_name}"})
        )
        notes.append(
            f"the shared module reads its limits from {chosen.module}:{chosen.obj} "
            f"({chosen.class_name}); the other settings classes ({others}) are left alone"
        )
    return chosen


def _metric_names(
    statements: list[ast.stmt], bindings: dict[str, str]
) -> list[tuple[str | None, str | None]]:
    """(namespace, name) of every prometheus_client metric the module builds when it is imported
    (metrics are made once, at import), where literal."""
    names: list[tuple[str | None, str | None]] = []
    calls = [
        node
        for statement in statements
        if isinstance(statement, ast.Assign | ast.AnnAssign | ast.Expr)
        for node in ast.walk(statement)
    ]
    for node in calls:
        if not isinstance(node, ast.Call) or ast_qualify(node.func, bindings) not in _METRIC_CLASSES:
            continue
        name = node.args[0] if node.args else None
        namespace = None
        for keyword in node.keywords:
            if keyword.arg == "name":
                name = keyword.value
            elif keyword.arg == "namespace":
                namespace = keyword.value
        names.append((_literal(namespace), _literal(name)))
    return names


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


_METRIC_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def metric_prefix(metrics: list[tuple[str | None, str | None]]) -> str:
    """The metric names' prefix: `<namespace>_http_client` after the application's metrics (their
    most common `namespace=`, else the first word every metric name shares, when at least two
    do), else `http_client`."""
    namespaces = Counter(ns for ns, _ in metrics if ns and _METRIC_NAME.match(ns))
    if namespaces:
        return f"{namespaces.most_common(1)[0][0]}_http_client"
    words = {name.split("_", 1)[0] for _, name in metrics if name and "_" in name}
    named = [name for _, name in metrics if name]
    if len(named) >= 2 and len(words) == 1 and all("_" in name for name in named):
        word = words.pop()
        if _METRIC_NAME.match(word) and word not in {"http", "http_client"}:
            return f"{word}_http_client"
    return "http_client"


# --------------------------------------------------------------------------------------------------
# The settings class's fields (a libcst edit)


class SettingsEditError(Exception):
    """The fields cannot be added safely; the message names the construct."""


def settings_fields_edit(
    text: str,
    settings: SettingsClass,
    env_prefix: str,
    *,
    pep604: bool,
    module_file: str,
    style: ProjectStyle | None = None,
) -> str | None:
    """`text` (the settings module) with the fields the shared module reads added at the end of
    `settings.class_name`, or None when it has them all. `env_prefix` is the shared module's
    (`HTTP_CLIENT_`); `pep604` whether the project's Pythons take `int | None` at runtime
    (pydantic evaluates the annotations); `module_file` the shared module's path as the comment
    above the fields names it; `style` the project's (imports placed and quoted its way). Raises
    SettingsEditError when a name the fields need (`Field`, `AliasChoices`, `Literal`, `Union`)
    is bound to something else in the module, or the class is written on one line."""
    try:
        tree = ast.parse(text)
        module = cst.parse_module(text)
    except (SyntaxError, ValueError, cst.ParserSyntaxError) as exc:
        raise SettingsEditError(f"{settings.path.name} does not parse: {exc}") from None
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]
    bindings = import_bindings(imports)
    target = next(
        (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == settings.class_name), None
    )
    if target is None:
        raise SettingsEditError(f"class {settings.class_name} is not at the top level of its module")
    declared = {
        statement.target.id
        for statement in target.body
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
    }
    wanted = [(f"{env_prefix}{name}", kind, text_) for name, kind, text_ in VARIABLES]
    missing = [
        (variable, kind, about) for variable, kind, about in wanted if variable.lower() not in declared
    ]
    if not missing:
        return None
    needed = {"Field": "pydantic.Field", "Literal": "typing.Literal"}
    if settings.env_prefix:
        needed["AliasChoices"] = "pydantic.AliasChoices"
    if not pep604:
        needed["Union"] = "typing.Union"
    local = {
        n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
    } | {
        t.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    for name, qualified in needed.items():
        bound = bindings.get(name)
        if (bound is not None and bound not in {qualified, f"typing_extensions.{name}"}) or name in local:
            raise SettingsEditError(
                f"`{name}` in {settings.path.name} is not {qualified}, and the fields need it; "
                f"add the HTTP client fields to {settings.class_name} by hand (see the shared "
                "module's docstring)"
            )
    statements: list[cst.BaseStatement] = []
    for index, (variable, kind, about) in enumerate(missing):
        annotation = _TYPES[kind][0 if pep604 else 1]
        aliases = [variable] + ([settings.env_prefix + variable] if settings.env_prefix else [])
        alias = f'AliasChoices(\n        "{aliases[0]}",\n        "{aliases[-1]}",\n    )'
        if len(aliases) == 1:
            alias = f'"{variable}"'
        code = (
            f"{variable.lower()}: {annotation} = Field(\n"
            "    default=None,\n"
            f"    validation_alias={alias},\n"
            f'    description="{about}",\n'
            ")\n"
        )
        if style is not None and style.quotes == "single":
            code = _single_quotes(code)
        statement = cst.parse_statement(code)
        if index == 0:
            comment = cst.Comment(f"# The shared HTTP clients' pool ({module_file}); unset: its defaults.")
            leading = [cst.EmptyLine(indent=False), cst.EmptyLine(comment=comment)]
            statement = statement.with_changes(leading_lines=leading)
        statements.append(statement)
    module = module.visit(_AppendToClass(settings.class_name, statements))
    context = EditContext()
    if style is not None:
        own = settings.module.split(".", 1)[0]
        set_import_style(context, replace(style.imports, first_party=style.imports.first_party | {own}))
    for name, qualified in needed.items():
        if bindings.get(name) is None:
            add_import(context, qualified.rpartition(".")[0], name)
    module = apply_import_changes(module, context)
    new_text = module.code
    compile(new_text, str(settings.path), "exec")
    return new_text


class _AppendToClass(cst.CSTTransformer):
    """Append statements to the body of one top-level class."""

    def __init__(self, name: str, statements: list[cst.BaseStatement]) -> None:
        self.name = name
        self.statements = statements
        self.depth = 0

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.depth += 1
        return self.depth == 1

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        if self.depth or updated_node.name.value != self.name:
            return updated_node
        body = updated_node.body
        if not isinstance(body, cst.IndentedBlock):
            raise SettingsEditError(f"class {self.name} is written on one line")
        return updated_node.with_changes(body=body.with_changes(body=[*body.body, *self.statements]))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


_REQUIRES = re.compile(r">=\s*3\.(?P<minor>\d+)")


def takes_pep604(requires_python: str | None) -> bool:
    """Whether every Python the project supports evaluates `int | None` (3.10 and later); unknown:
    no, so that the fields use `Union[...]`, which every version takes."""
    match = _REQUIRES.search(requires_python or "")
    return match is not None and int(match["minor"]) >= 10

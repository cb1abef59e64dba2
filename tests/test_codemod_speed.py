"""The fast paths of the rewrite (codemods/shared_client.py) give what the whole-module libcst
visitors give, byte for byte.

`apply_import_changes` hands AddImportsVisitor only the module's head, decides from the stdlib
`ast` what RemoveImportsVisitor's scope analysis would say when it can (`_removal_decisions`),
and `rewrite_module` does not walk functions without a planned site. Each is checked here against
`reference_import_changes`, the former implementation (libcst's visitors over the whole module),
and on exact output for the cases that matter most: an import is removed only when its name is
no longer referenced anywhere, and comments above a removed import stay.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

import codemods.imports as sc
from codemods.imports import apply_import_changes
from codemods.shared_client import SharedClientTransformer, rewrite_module
from pool_refactor.plan.analyze import analyze_source
from pool_refactor.scan.findings import Applicability, FixPlan
from pool_refactor.scan.source import decode_source

ACCESSOR_MODULE = "myapp.http_client"
FIXTURES = Path(__file__).parent / "fixtures" / "fix"
FIXTURE_CASES = (
    sorted(p for p in FIXTURES.iterdir() if (p / "input.py").exists()) if FIXTURES.exists() else []
)

Plans = dict[tuple[int, int, int, int], FixPlan]


def reference_import_changes(module: cst.Module, context: CodemodContext) -> cst.Module:
    """`apply_import_changes` as it was: libcst's import visitors over the whole module."""

    def visitors(tree: cst.Module) -> cst.Module:
        return RemoveImportsVisitor(context).transform_module(
            AddImportsVisitor(context).transform_module(tree)
        )

    after = visitors(module)
    remaining = sc._import_codes(after)
    finder = sc._ImportStatements()
    module.visit(finder)
    doomed = {id(s) for s in finder.found if remaining[sc._statement_code(s)] == 0}
    if any(id(s) in doomed and any(line.comment for line in s.leading_lines) for s in finder.found):
        after = visitors(module.visit(sc._MoveComments(doomed)))
    starts = sc._FunctionStarts()
    module.visit(starts)
    after = after.visit(sc._FunctionTopTidier(starts.flags))
    return sc._tidy_import_block(module, after)


def plans_for(source: str, unsafe: bool = False) -> Plans:
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    return {
        f.span: f.plan
        for f in analyze_source(source, "module.py")
        if f.plan is not None and not f.suppressed and f.applicability in allowed
    }


def fix(source: str) -> str:
    """What `--fix` writes, checked against the former implementation."""
    plans = plans_for(source)
    assert plans, "the case must have a fixable site"
    context = CodemodContext()
    module, applied = rewrite_module(cst.parse_module(source), plans, ACCESSOR_MODULE, context)
    assert applied == set(plans)
    new = apply_import_changes(module, context).code
    assert new == reference_import_changes(module, context).code
    return new


def removal_decisions(source: str) -> list[bool] | None:
    """What `_removal_decisions` says after the rewrite of `source` for the imports of the module
    (the added accessor import left out); None when libcst's scope analysis has to run."""
    context = CodemodContext()
    module, _ = rewrite_module(cst.parse_module(source), plans_for(source), ACCESSOR_MODULE, context)
    module = sc._add_imports(module, context)
    scheduled = context.scratch[RemoveImportsVisitor.CONTEXT_KEY]
    aliases = sc._module_aliases(module)
    decisions = sc._removal_decisions(module.code, scheduled, None, aliases)
    if decisions is None:
        return None
    return [
        decision
        for site, decision in zip(aliases, decisions, strict=True)
        if not (
            isinstance(site.parent, cst.ImportFrom)
            and site.parent.module is not None
            and cst.helpers.get_full_name_for_node(site.parent.module) == ACCESSOR_MODULE
        )
    ]


def fetch(client: str = "httpx.AsyncClient()") -> str:
    return (
        "\n\nasync def fetch(url: str) -> str:\n"
        f"    async with {client} as client:\n"
        "        response = await client.get(url)\n"
        "        return response.text\n"
    )


STATUS_CHECK = (
    "\n\ndef is_status_error(exc: Exception) -> bool:\n    return isinstance(exc, httpx.HTTPStatusError)\n"
)

REWRITTEN_FETCH = (
    "\n\nasync def fetch(url: str) -> str:\n"
    "    client = get_http_client()\n"
    "    response = await client.get(url)\n"
    "    return response.text\n"
)


# -- an import goes only when its name is no longer referenced ------------------------------------


def test_import_still_used_in_another_function_is_kept_without_scope_analysis() -> None:
    source = "import httpx\n" + fetch() + STATUS_CHECK
    assert removal_decisions(source) == [False]
    assert fix(source) == (
        "import httpx\nfrom myapp.http_client import get_http_client\n" + REWRITTEN_FETCH + STATUS_CHECK
    )


def test_import_read_at_module_level_after_it_is_kept() -> None:
    source = "import httpx\n\nTIMEOUT = httpx.Timeout(10)\n" + fetch()
    assert removal_decisions(source) == [False]
    assert fix(source) == (
        "import httpx\nfrom myapp.http_client import get_http_client\n\nTIMEOUT = httpx.Timeout(10)\n"
        + REWRITTEN_FETCH
    )


def test_import_no_longer_used_is_removed_without_scope_analysis() -> None:
    source = '"""Mentions httpx only in the docstring."""\n\nimport httpx\n' + fetch()
    assert removal_decisions(source) == [True]
    assert fix(source) == (
        '"""Mentions httpx only in the docstring."""\n\nfrom myapp.http_client import get_http_client\n'
        + REWRITTEN_FETCH
    )


def test_import_used_only_in_a_string_annotation_is_kept_by_libcst() -> None:
    source = (
        "import httpx\n" + fetch() + '\n\ndef close(client: "httpx.Client") -> None:\n    client.close()\n'
    )
    assert removal_decisions(source) is None  # libcst's analysis decides
    assert fix(source).startswith("import httpx\nfrom myapp.http_client import get_http_client\n")


def test_import_named_in_dunder_all_is_kept_by_libcst() -> None:
    source = 'from httpx import AsyncClient, Timeout\n\n__all__ = ["AsyncClient"]\n' + fetch("AsyncClient()")
    assert removal_decisions(source) is None
    assert fix(source).startswith(
        "from httpx import AsyncClient\n"
        "from myapp.http_client import get_http_client\n\n"
        '__all__ = ["AsyncClient"]\n'
    )


@pytest.mark.parametrize(
    "source",
    [
        "import httpx\n" + fetch() + '\n\ndef close(client: "httpx.Client") -> None:\n    client.close()\n',
        'from httpx import AsyncClient, Timeout\n\n__all__ = ["AsyncClient"]\n' + fetch("AsyncClient()"),
    ],
)
def test_libcsts_own_removal_runs_the_same_from_an_edit_context(source: str) -> None:
    """Where libcst's scope analysis must decide, the `EditContext` of `--fix` (no `libcst.codemod`
    until then) gives what a `CodemodContext` gives."""
    assert removal_decisions(source) is None
    plans = plans_for(source)
    context = sc.EditContext()
    module, _ = rewrite_module(cst.parse_module(source), plans, ACCESSOR_MODULE, context)
    assert apply_import_changes(module, context).code == fix(source)


def test_import_whose_name_is_only_a_shadowing_local_is_removed_by_libcst() -> None:
    source = "import httpx\n" + fetch() + "\n\ndef local() -> str:\n    httpx = 'a name'\n    return httpx\n"
    assert removal_decisions(source) is None  # bound elsewhere: not decided
    assert fix(source) == (
        "from myapp.http_client import get_http_client\n"
        + REWRITTEN_FETCH
        + "\n\ndef local() -> str:\n    httpx = 'a name'\n    return httpx\n"
    )


def test_aliased_import_kept_while_the_alias_is_read() -> None:
    source = (
        "import httpx as hx\n"
        + fetch("hx.AsyncClient()")
        + "\n\nLIMITS = None\n\n\ndef t() -> object:\n    return hx.Timeout(1)\n"
    )
    assert removal_decisions(source) == [False]
    assert fix(source).startswith("import httpx as hx\nfrom myapp.http_client import get_http_client\n")


def test_aliased_import_removed_once_unused() -> None:
    source = "import httpx as hx\n" + fetch("hx.AsyncClient()")
    assert removal_decisions(source) == [True]
    assert fix(source) == "from myapp.http_client import get_http_client\n" + REWRITTEN_FETCH


def test_from_import_loses_only_the_unused_name() -> None:
    source = (
        "from httpx import AsyncClient, HTTPStatusError\n"
        + fetch("AsyncClient()")
        + "\n\ndef failed(exc: Exception) -> bool:\n    return isinstance(exc, HTTPStatusError)\n"
    )
    assert removal_decisions(source) == [
        True,
        False,
    ]
    assert fix(source).startswith(
        "from httpx import HTTPStatusError\nfrom myapp.http_client import get_http_client\n"
    )


def test_comments_above_a_removed_import_are_kept() -> None:
    source = "# HTTP client library\nimport httpx\n\nimport os\n" + fetch().replace(
        "return response.text", "return os.fspath(response.text)"
    )
    assert fix(source).startswith(
        "# HTTP client library\n\nimport os\nfrom myapp.http_client import get_http_client\n"
    )


def test_comment_above_removed_import_moves_past_the_next_removed_import() -> None:
    source = (
        "import logging\n# about httpx\nimport httpx\nfrom httpx import AsyncClient\n\n"
        "log = logging.getLogger(__name__)\n" + fetch("AsyncClient()")
    )
    assert removal_decisions(source) == [False, True, True]
    assert fix(source) == (
        "import logging\nfrom myapp.http_client import get_http_client\n\n# about httpx\n\n"
        "log = logging.getLogger(__name__)\n" + REWRITTEN_FETCH
    )


def test_function_local_import_is_removed() -> None:
    source = (
        "async def fetch(url: str) -> str:\n"
        "    import httpx\n\n"
        "    async with httpx.AsyncClient() as client:\n"
        "        response = await client.get(url)\n"
        "        return response.text\n"
    )
    assert removal_decisions(source) == [True]
    assert fix(source) == "from myapp.http_client import get_http_client\n" + REWRITTEN_FETCH


def test_name_in_an_ordinary_string_is_left_to_libcst() -> None:
    source = "import httpx\n" + fetch() + '\n\nMESSAGE = "httpx failed"\n'
    assert removal_decisions(source) is None
    assert fix(source).startswith("from myapp.http_client import get_http_client\n")


# -- the decisions agree with libcst's RemoveImportsVisitor on tricky modules ----------------------

# (source, expected decisions for every import scheduled: "kept", "removed" or None = libcst decides)
TRICKY: dict[str, tuple[str, str | None]] = {
    "read_in_method": ("import a\n\nclass C:\n    def m(self):\n        return a.x\n", "kept"),
    "read_in_class_body": ("import a\n\nclass C:\n    x = a.x\n", "kept"),
    "read_in_lambda": ("import a\n\nf = lambda: a.x\n", "kept"),
    "read_in_comprehension_at_module_level_after": ("import a\n\nxs = [a.f(i) for i in range(3)]\n", "kept"),
    "read_at_module_level_before": ("x = a\nimport a\n", None),
    "read_in_same_statement_only": ("try:\n    import a\n    b = a.x\nexcept ImportError:\n    pass\n", None),
    "read_in_decorator": ("import a\n\n@a.deco\ndef f():\n    pass\n", "kept"),
    "read_in_default": ("import a\n\ndef f(x=a.DEFAULT):\n    return x\n", "kept"),
    "read_in_annotation": ("import a\n\ndef f(x: a.T) -> None:\n    pass\n", "kept"),
    "read_in_fstring": ("import a\n\ndef f():\n    return f'{a.x}'\n", "kept"),
    "parameter_shadows": ("import a\n\ndef f(a):\n    return a\n", None),
    "assignment_elsewhere": ("import a\n\ndef f():\n    a = 1\n    return a\n", None),
    "global_declaration": ("import a\n\ndef f():\n    global a\n    return a.x\n", None),
    "walrus": ("import a\n\ndef f():\n    if (a := 1):\n        return a\n", None),
    "except_as": (
        "import a\n\ndef f():\n    try:\n        pass\n    except E as a:\n        return a\n",
        None,
    ),
    "for_target": ("import a\n\ndef f():\n    for a in []:\n        return a\n", None),
    "comprehension_target": ("import a\n\ndef f(xs):\n    return [a for a in xs]\n", None),
    "match_capture": ("import a\n\ndef f(x):\n    match x:\n        case [a]:\n            return a\n", None),
    "del": ("import a\n\ndef f():\n    del a\n", None),
    "class_named_like_it": ("import a\n\nclass a:\n    pass\n", None),
    "function_local_import_read": ("def f():\n    import a\n    return a.x\n", "kept"),
    "function_local_import_read_in_an_except_clause": (
        "def f():\n    import a\n    try:\n        g()\n    except a.E as e:\n        raise X from e\n",
        "kept",
    ),
    "function_local_import_in_a_method_read": (
        "class C:\n    def m(self):\n        import a as b\n        return b.x\n",
        "kept",
    ),
    "function_local_import_in_a_handler_read": (
        "def f():\n    try:\n        import a\n    except ImportError:\n"
        "        import b as a\n    return a.x\n",
        None,
    ),
    "function_local_import_read_before_it": ("def f():\n    a.x\n    import a\n", None),
    "function_local_import_read_only_in_a_nested_function": (
        "def f():\n    import a\n\n    def g():\n        return a.x\n\n    return g\n",
        None,
    ),
    "function_local_import_read_only_in_a_comprehension": (
        "def f(xs):\n    import a\n    return [a.x for x in xs]\n",
        None,
    ),
    "function_local_import_assigned_again": ("def f():\n    import a\n    a = a.x\n    return a\n", None),
    "function_local_import_shadowed_in_a_nested_function": (
        "def f():\n    import a\n\n    def g(a):\n        return a\n\n    return a.x\n",
        None,
    ),
    "function_local_import_named_like_a_parameter": ("def f(a):\n    import a\n    return a.x\n", None),
    "function_local_import_declared_global": (
        "def f():\n    global a\n    import a\n    return a.x\n",
        None,
    ),
    "function_local_import_only_read_in_typevar_call": (
        "import typing\n\ndef f():\n    import a\n    return typing.TypeVar(a)\n",
        None,
    ),
    "class_body_import_read": ("class C:\n    import a\n    x = a.y\n", None),
    "function_local_dotted_import_read": ("def f():\n    import a.b\n    return a.b.c\n", None),
    "unused": ("import a\n", "removed"),
    "unused_but_attribute_named_like_it": ("import a\n\ndef f(o):\n    return o.a\n", None),
    "unused_but_keyword_named_like_it": ("import a\n\ndef f(g):\n    return g(a=1)\n", None),
    "unused_in_docstring": ('"""About a."""\nimport a\n', "removed"),
    "unused_in_string_annotation": ("import a\n\ndef f(x: 'a.T'):\n    pass\n", None),
    "unused_in_all": ("import a\n\n__all__ = ['a']\n", None),
    "unused_in_fstring_concatenation": ("import a\n\ndef f(x: f'{b}' 'a'):\n    pass\n", None),
    "only_read_in_typevar_call": (
        "import typing\nimport a\n\ndef f():\n    return typing.TypeVar(a)\n",
        None,
    ),
    "only_read_in_aliased_newtype_call": (
        "from typing import NewType as NT\nimport a\n\ndef f():\n    return NT(a, int)\n",
        None,
    ),
    "dotted_import_read": ("import a.b\n\ndef f():\n    return a.b.c\n", None),
    "dotted_import_unused": ("import a.b\n", "removed"),
    "relative_import_never_removed": ("from . import a\n", "kept"),
    "future_import_never_removed": ("from __future__ import annotations\n", "kept"),
    "star_import_ignored": ("from a import *\nimport b\n\ndef f():\n    return b.x\n", "kept"),
    "same_name_from_two_imports": (
        "import a\ntry:\n    from c import a\nexcept ImportError:\n    pass\n\ndef f():\n    return a.x\n",
        "kept",
    ),
    "non_ascii_spelling_of_the_name": ("import a\n\ndef f():\n    return \uff41.x\n", None),
    "non_ascii_elsewhere": ("import a\n\ndef f():\n    return a.x  # caf\u00e9\n\nS = '\u00e9'\n", "kept"),
}


def schedule_every_import(module: cst.Module) -> CodemodContext:
    context = CodemodContext()
    for site in sc._module_aliases(module):
        name, alias = site.alias.evaluated_name, site.alias.evaluated_alias
        if isinstance(site.parent, cst.Import):
            RemoveImportsVisitor.remove_unused_import(context, name, asname=alias)
        elif site.parent.module is not None:
            module_name = cst.helpers.get_full_name_for_node(site.parent.module)
            if module_name and not site.parent.relative:
                RemoveImportsVisitor.remove_unused_import(context, module_name, name, asname=alias)
            else:
                RemoveImportsVisitor.remove_unused_import(context, "pkg", name, asname=alias)
        else:
            RemoveImportsVisitor.remove_unused_import(context, "pkg", name, asname=alias)
    return context


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_decisions_agree_with_libcst(name: str) -> None:
    source, expected = TRICKY[name]
    module = cst.parse_module(source)
    context = schedule_every_import(module)
    scheduled = context.scratch[RemoveImportsVisitor.CONTEXT_KEY]
    decisions = sc._removal_decisions(module.code, scheduled, None, sc._module_aliases(module))
    if expected is None:
        assert decisions is None
    else:
        assert decisions is not None
        assert decisions == [expected == "removed"] * len(decisions)
    assert apply_import_changes(module, context).code == reference_import_changes(module, context).code


def test_partial_from_import_with_comments_matches_libcst() -> None:
    source = "from a import (\n    x,  # about x\n    y,  # about y\n    z,\n)\n\n\ndef f():\n    return y\n"
    module = cst.parse_module(source)
    context = CodemodContext()
    for name in "xyz":
        RemoveImportsVisitor.remove_unused_import(context, "a", name)
    assert sc._removal_decisions(
        module.code, context.scratch[RemoveImportsVisitor.CONTEXT_KEY], None, sc._module_aliases(module)
    ) == [True, False, True]
    assert apply_import_changes(module, context).code == reference_import_changes(module, context).code


def test_nonlocal_at_module_level_is_left_to_libcst() -> None:
    module = cst.parse_module("import a\nnonlocal b\n")
    assert sc._removal_decisions(module.code, [("a", None, None)], None, sc._module_aliases(module)) is None


def test_import_spelled_differently_by_ast_is_left_to_libcst() -> None:
    # `ast` reads the fullwidth letter as "a" (NFKC); libcst keeps it as written.
    module = cst.parse_module("import \uff41\n\ndef f():\n    return a.x\n")
    assert sc._removal_decisions(module.code, [("a", None, None)], None, sc._module_aliases(module)) is None


def test_non_ascii_schedule_is_left_to_libcst() -> None:
    module = cst.parse_module("import \u00e9t\u00e9\n")
    assert (
        sc._removal_decisions(module.code, [("\u00e9t\u00e9", None, None)], None, sc._module_aliases(module))
        is None
    )


# -- AddImportsVisitor on the head of the module ---------------------------------------------------

HEADS = {
    "empty": "",
    "only_docstring": '"""Doc."""\n',
    "docstring_imports_code": '"""Doc."""\n\nimport os\nimport sys\n\nX = 1\n',
    "strict_flag": "__strict__ = True\nimport os\n\nX = 1\n",
    "code_first": "X = 1\nimport os\n",
    "comment_header": "# header\n\n# about os\nimport os\n\n\ndef f():\n    pass\n",
    "only_imports": "import os\nfrom typing import Any\n",
    "several_imports_on_a_line": "import os; import sys\nimport re\n\nX = 1\n",
    "existing_accessor_import": "import os\nfrom myapp.http_client import get_sync_http_client\n\nX = 1\n",
    "existing_accessor_import_with_comment": (
        '"""Doc."""\n\n# the shared clients\nfrom myapp.http_client import get_sync_http_client\n\nX = 1\n'
    ),
    "accessor_import_below_code": "import os\n\nX = 1\nfrom myapp.http_client import get_sync_http_client\n",
    "accessor_import_in_function_too": (
        "# shared\nfrom myapp.http_client import get_sync_http_client\n\n\ndef f():\n"
        "    from myapp.http_client import get_http_client\n    return get_http_client\n"
    ),
    "future_import": "from __future__ import annotations\n\nimport os\n\nX = 1\n",
    "type_checking_block": "import os\nif TYPE_CHECKING:\n    import sys\n\nX = 1\n",
    "no_trailing_newline": "import os\nX = 1",
    "crlf": '"""Doc."""\r\n\r\nimport os\r\n\r\n\r\ndef f():\r\n    pass\r\n',
    "class_right_after_imports": (
        "import os\n# the class\nclass C:\n    import sys\n\n    def m(self):\n        pass\n"
    ),
    "class_after_blank_line": "import os\n\n\n@decorated\nclass C:\n    pass\n",
    "only_a_class": "class C:\n    from myapp.http_client import get_http_client\n",
    "compound_first_then_imports": (
        "try:\n    import a\nexcept ImportError:\n    a = None\nimport os\n\nX = 1\n"
    ),
    "if_first_then_class": "if True:\n    pass\nclass C:\n    pass\n",
    "docstring_then_class": '"""Doc."""\nclass C:\n    pass\n',
    "pass_line_with_a_comment": "import os\npass  # a stand-in 5f0c2d9e6b1a4c47\nclass C:\n    pass\n",
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_adding_imports_on_the_head_matches_the_whole_module(name: str) -> None:
    module = cst.parse_module(HEADS[name])
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, ACCESSOR_MODULE, "get_http_client")
    assert sc._add_imports(module, context).code == AddImportsVisitor(context).transform_module(module).code
    # and the whole step, as the lifecycle wiring uses it (nothing to remove)
    assert apply_import_changes(module, context).code == reference_import_changes(module, context).code


# More heads, for `_add_imports` against libcst's visitor with every kind of schedule.
MORE_HEADS = {
    "star_import": "from myapp.http_client import *\n\nX = 1\n",
    "aliased_existing": "from myapp.http_client import get_http_client as g\n\nX = 1\n",
    "relative_existing": "from .http_client import get_sync_http_client\n\nX = 1\n",
    "parent_relative_existing": "from ..pkg.http_client import get_sync_http_client\nX = 1\n",
    "module_import_existing": "import myapp.http_client\nimport os as o\n\nX = 1\n",
    "parenthesized_existing": (
        "from myapp.http_client import (  # shared\n    get_sync_http_client,  # sync\n"
        "    close_http_clients,\n)\nimport os\n\nX = 1\n"
    ),
    "two_lines_same_module": (
        "from myapp.http_client import get_sync_http_client\nfrom myapp.http_client import close\nX = 1\n"
    ),
    "future_then_docstring": '"""Doc."""\nfrom __future__ import annotations\nimport os\n# c\nX = 1\n',
    "concatenated_docstring_first": '"""a""" "b"\nimport os\nX = 1\n',
    "fstring_first": 'f"doc"\nimport os\nX = 1\n',
    "annotated_strict": "__strict__: bool = True\nimport os\nX = 1\n",
    "strict_two_targets": "__strict__ = x = True\nimport os\nX = 1\n",
    "strict_then_docstring": '__strict__ = True\n"""Doc."""\nimport os\n',
    "docstring_and_more_on_a_line": '"""Doc."""; import os\nimport sys\nX = 1\n',
    "comment_then_blank_before_code": "import os\n# about X\n\nX = 1\n",
    "blank_then_comment_before_code": "import os\n\n# about X\nX = 1\n",
    "tabs_and_crlf": "import os\r\nif os:\r\n\tX = 1\r\n",
    "only_comments": "# just a comment\n",
    "header_comment_then_docstring": '#!/usr/bin/python\n# -*- coding: utf-8 -*-\n"""D."""\nimport os\n',
}

Schedule = list[tuple[str, str | None, str | None]]

SCHEDULES: dict[str, Schedule] = {
    "one": [(ACCESSOR_MODULE, "get_sync_http_client", None)],
    "two_names_unsorted": [(ACCESSOR_MODULE, "get_sync_http_client", None), (ACCESSOR_MODULE, "close", None)],
    "aliased": [(ACCESSOR_MODULE, "get_http_client", "g")],
    "aliased_and_plain": [(ACCESSOR_MODULE, "get_http_client", "g"), (ACCESSOR_MODULE, "close", None)],
    "two_modules": [("zeta.mod", "z", None), ("alpha.mod", "a", "b"), ("alpha.mod", "c", None)],
    "duplicates": [(ACCESSOR_MODULE, "get_http_client", None)] * 2 + [("x", "y", "z")] * 2,
    "module_imports": [("os", None, None), ("json", None, None), ("typing", None, "t"), ("abc", None, "a")],
    "future": [("__future__", "annotations", None), (ACCESSOR_MODULE, "close", None)],
    "relative": [(".http_client", "get_sync_http_client", None), ("..pkg.http_client", "close", None)],
    "relative_module": [("..pkg", None, None)],
}


def _libcst_context(package: str | None, schedule: Schedule) -> CodemodContext:
    context = CodemodContext(full_package_name=package)
    for module, obj, asname in schedule:
        AddImportsVisitor.add_needed_import(context, module, obj, asname)
    return context


@pytest.mark.parametrize("name", sorted({**HEADS, **MORE_HEADS}))
def test_adding_imports_matches_libcsts_visitor(name: str) -> None:
    """`_add_imports` makes no visitor, yet gives what `AddImportsVisitor` gives, byte for byte,
    for every schedule (and with a package to resolve relative imports against)."""
    module = cst.parse_module({**HEADS, **MORE_HEADS}[name])
    cases = [(schedule, None) for schedule in SCHEDULES]
    cases += [(schedule, "myapp.sub") for schedule in ("one", "relative", "relative_module")]
    for schedule, package in cases:
        context = _libcst_context(package, SCHEDULES[schedule])
        expected = AddImportsVisitor(context).transform_module(module).code
        assert sc._add_imports(module, context).code == expected, (schedule, package)


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_libcsts_visitor_reads_a_schedule_made_here(schedule: str) -> None:
    """`add_import` schedules what libcst's own visitor reads (`python -m libcst.tool codemod`)."""
    module = cst.parse_module(MORE_HEADS["parenthesized_existing"])
    ours = sc.EditContext()
    for module_name, obj, asname in SCHEDULES[schedule]:
        if obj is not None:
            sc.add_import(ours, module_name, obj, asname)
    theirs = _libcst_context(None, [entry for entry in SCHEDULES[schedule] if entry[1] is not None])
    expected = AddImportsVisitor(theirs).transform_module(module).code
    assert AddImportsVisitor(CodemodContext(scratch=ours.scratch)).transform_module(module).code == expected
    assert sc._add_imports(module, ours).code == expected


def test_importing_a_module_from_the_future_is_refused_as_libcst_does() -> None:
    context = CodemodContext(scratch={sc.ADD_KEY: [sc.ScheduledImport("__future__")]})
    with pytest.raises(ValueError, match="Cannot import __future__ directly"):
        sc._add_imports(cst.parse_module("import os\n"), context)


def test_head_length_covers_the_import_block_and_the_next_statement() -> None:
    module = cst.parse_module('"""Doc."""\nimport os\nimport sys\nX = 1\nY = 2\n')
    assert sc._head_length(module.body) == 4
    assert sc._head_length(cst.parse_module("import os\n").body) == 1
    assert sc._head_length(cst.parse_module("").body) == 0


# -- rewrite_module walks only the functions with a site ------------------------------------------


def full_walk(source: str, plans: Plans) -> tuple[str, set[tuple[int, int, int, int]], object]:
    context = CodemodContext()
    wrapper = cst.MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    transformer = SharedClientTransformer(context, plans, ACCESSOR_MODULE)
    code = wrapper.visit(transformer).code
    return code, transformer.applied, context.scratch.get(AddImportsVisitor.CONTEXT_KEY)


def fixture_plans(case: Path) -> tuple[str, Plans]:
    source = decode_source((case / "input.py").read_bytes()).text
    return source, plans_for(source, unsafe=(case / "unsafe").exists())


PLANNED_CASES = [case for case in FIXTURE_CASES if fixture_plans(case)[1]]


def test_there_are_planned_fixture_cases() -> None:
    assert len(PLANNED_CASES) >= 40


@pytest.mark.parametrize("case", PLANNED_CASES, ids=[c.name for c in PLANNED_CASES])
def test_skipping_unplanned_functions_matches_the_full_walk(case: Path) -> None:
    source, plans = fixture_plans(case)
    context = CodemodContext()
    module, applied = rewrite_module(cst.parse_module(source), plans, ACCESSOR_MODULE, context)
    code, full_applied, full_scheduled = full_walk(source, plans)
    assert (module.code, applied) == (code, full_applied)
    assert context.scratch.get(AddImportsVisitor.CONTEXT_KEY) == full_scheduled


def test_a_site_missed_by_skipping_falls_back_to_the_full_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "import httpx\n" + fetch() + "\n\ndef other():\n    return 1\n"
    plans = plans_for(source)
    expected = full_walk(source, plans)
    monkeypatch.setattr(SharedClientTransformer, "_has_planned_line", lambda self, node: False)
    context = CodemodContext()
    module, applied = rewrite_module(cst.parse_module(source), plans, ACCESSOR_MODULE, context)
    assert (module.code, applied, context.scratch.get(AddImportsVisitor.CONTEXT_KEY)) == expected
    assert applied == set(plans)


def test_awaited_one_shot_in_an_expression_is_parenthesized() -> None:
    """The parent of the call comes from the transformer's walk (no ParentNodeProvider)."""
    source = (
        "import httpx\n\n\nasync def size(url: str) -> int:\n"
        "    return len(httpx.get(url).content) + httpx.get(url).status_code\n"
    )
    plans = plans_for(source, unsafe=True)
    assert plans
    context = CodemodContext()
    module, applied = rewrite_module(cst.parse_module(source), plans, ACCESSOR_MODULE, context)
    assert applied == set(plans)
    assert module.code == full_walk(source, plans)[0]

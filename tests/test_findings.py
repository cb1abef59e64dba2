"""The records of `scan.findings` are plain classes (issue 16: dataclasses exec their methods at import,
10% of a warm scan). These tests hold them to what the dataclasses did, field by field, so that a field
added to `__init__` but forgotten in `==`, `hash`, `repr`, `replace`, pickling or the cache's layout
fails here rather than in a report.
"""

from __future__ import annotations

import copy
import inspect
import json
import pickle
import types
import typing
from collections.abc import Callable
from enum import Enum
from typing import Any

import pytest

from pool_refactor.run import cache
from pool_refactor.scan.findings import (
    Applicability,
    Export,
    FileError,
    FileScan,
    Finding,
    FixPlan,
    Note,
    ScanResult,
    Verdict,
)

RECORDS: tuple[type[Any], ...] = (FixPlan, Finding, FileError, Note, Export, FileScan, ScanResult)
FROZEN: tuple[type[Any], ...] = (FixPlan, Finding, FileError, Note, Export, FileScan)
"""The records that were `frozen=True` dataclasses: hashable, and copied with `replace`."""
WITH_REPLACE: tuple[type[Any], ...] = (FixPlan, Finding, FileError, Note, FileScan)
NOT_COMPARED = {(Finding, "plan")}
"""Fields left out of `==` and `hash` (`field(compare=False)`)."""


def plan(kind: str = "with") -> FixPlan:
    return FixPlan(
        kind, "httpx", "get_sync_http_client", "httpx-sync", False, "client", ("timeout",), ("auth",)
    )


def finding(line: int = 3, with_plan: FixPlan | None = None) -> Finding:
    return Finding(
        "app/calls.py",
        line,
        10,
        line,
        "POOL101",
        "httpx",
        Verdict.PER_REQUEST,
        False,
        "fetch",
        "with httpx.Client() as c:",
        True,
        "",
        "`httpx.Client` opened and closed around one call",
        Applicability.SAFE,
        False,
        with_plan,
        26,
    )


def export() -> Export:
    return Export("factory", "make_client", 4, "make_client", "httpx", "Client")


SAMPLES: dict[type[Any], Callable[[], Any]] = {
    FixPlan: plan,
    Finding: lambda: finding(with_plan=plan()),
    FileError: lambda: FileError("app/broken.py", "invalid syntax (line 3, column 9)"),
    Note: lambda: Note("wiring", "call close() on shutdown", "app/main.py", 12),
    Export: export,
    FileScan: lambda: FileScan("app/calls.py", (finding(),), None, True, (export(),)),
    ScanResult: lambda: ScanResult([finding()], [FileError("b.py", "boom")], 2, 1, [Note("module", "x")]),
}


def fields_of(cls: type[Any]) -> tuple[str, ...]:
    names: tuple[str, ...] = cls.__slots__
    return names


def other_value(value: Any) -> Any:
    """A value of the same kind as `value` that compares different."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, Verdict):
        return Verdict.LEAK if value is not Verdict.LEAK else Verdict.UNCLEAR
    if isinstance(value, Applicability):
        return Applicability.UNSAFE if value is not Applicability.UNSAFE else Applicability.NONE
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "-other"
    if value is None:
        return "other"
    if isinstance(value, FixPlan):
        return value.replace(kind="local")
    if isinstance(value, tuple):
        return (*value, value[0]) if value else ("other",)
    if isinstance(value, list):
        return [*value, value[0]] if value else ["other"]
    if isinstance(value, set):
        return {*value, "other"}
    if isinstance(value, dict):
        return {**value, "other": {}}
    raise AssertionError(f"no other value for {value!r}")


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_slots_are_the_init_parameters_in_order(cls: type[Any]) -> None:
    """`__slots__` is the field order the cache's layout and `__reduce__` rely on."""
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    assert fields_of(cls) == tuple(parameters)
    sample = SAMPLES[cls]()
    assert not hasattr(sample, "__dict__")  # every attribute is a declared field


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_repr_is_the_dataclass_repr(cls: type[Any]) -> None:
    sample = SAMPLES[cls]()
    shown = ", ".join(f"{name}={getattr(sample, name)!r}" for name in fields_of(cls))
    assert repr(sample) == f"{cls.__name__}({shown})"


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_equality_looks_at_every_compared_field(cls: type[Any]) -> None:
    sample, twin = SAMPLES[cls](), SAMPLES[cls]()
    assert sample == twin and sample is not twin
    assert sample != tuple(getattr(sample, name) for name in fields_of(cls))  # not a tuple
    assert (sample == object()) is False
    for name in fields_of(cls):
        values = {n: getattr(sample, n) for n in fields_of(cls)}
        values[name] = other_value(values[name])
        changed = cls(**values)
        if (cls, name) in NOT_COMPARED:
            assert changed == sample, name
            assert hash(changed) == hash(sample), name
        else:
            assert changed != sample, name


@pytest.mark.parametrize("cls", FROZEN, ids=lambda cls: cls.__name__)
def test_hash_is_the_hash_of_the_compared_fields(cls: type[Any]) -> None:
    """As a frozen dataclass's: the fields compared, in order, as a tuple."""
    sample = SAMPLES[cls]()
    compared = tuple(getattr(sample, n) for n in fields_of(cls) if (cls, n) not in NOT_COMPARED)
    assert hash(sample) == hash(compared)
    assert len({sample, SAMPLES[cls]()}) == 1


def test_a_finding_s_plan_is_not_compared() -> None:
    with_plan, without = finding(with_plan=plan()), finding()
    assert with_plan == without and hash(with_plan) == hash(without)
    assert {with_plan: 1}[without] == 1
    assert finding(line=4) != without


def test_the_scan_result_is_mutable_and_unhashable() -> None:
    result = ScanResult()
    with pytest.raises(TypeError):
        hash(result)
    result.findings.append(finding())
    result.files_scanned += 1
    assert ScanResult().findings == []  # each result gets its own lists (`default_factory`)
    assert ScanResult() == ScanResult() and ScanResult() != result
    empty = ScanResult()
    assert (empty.errors, empty.notes, empty.rewritten, empty.closed_elsewhere) == ([], [], set(), {})
    assert empty.errors is not ScanResult().errors


@pytest.mark.parametrize("cls", WITH_REPLACE, ids=lambda cls: cls.__name__)
def test_replace_changes_only_what_it_is_given(cls: type[Any]) -> None:
    sample = SAMPLES[cls]()
    assert sample.replace() == sample and sample.replace() is not sample
    for name in fields_of(cls):
        new = other_value(getattr(sample, name))
        copy = sample.replace(**{name: new})
        assert type(copy) is cls
        for other in fields_of(cls):
            assert getattr(copy, other) == (new if other == name else getattr(sample, other)), (name, other)
    with pytest.raises(TypeError):
        sample.replace(no_such_field=1)


def test_replace_can_set_a_field_to_none() -> None:
    assert finding(with_plan=plan()).replace(plan=None).plan is None
    assert FileScan("a.py", error="boom").replace(error=None).error is None


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_pickling_round_trips_every_field(cls: type[Any]) -> None:
    """Findings and file scans cross process boundaries (`run.parallel`, `run.workers`)."""
    sample = SAMPLES[cls]()
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(sample, protocol=protocol))
        assert type(back) is cls
        assert back == sample
        for name in fields_of(cls):
            assert getattr(back, name) == getattr(sample, name), name
    assert pickle.loads(pickle.dumps(finding(with_plan=plan()))).plan == plan()


def test_export_values_are_its_fields_in_order() -> None:
    """The project pass's fingerprint and the cache's layout (`list(vars(e).values())` before)."""
    sample = export()
    assert sample.values() == tuple(getattr(sample, name) for name in fields_of(Export))


# --------------------------------------------------------------------------------------------------
# The cache's layout, written out in `run.cache`, against the classes


def converter_for(hint: Any) -> Callable[[Any], Any] | None:
    """The converter `run.cache` derived from each annotation at import before the layouts were
    written out: enums by value, tuples from lists, an optional plan decoded, anything else as is."""
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint
    if typing.get_origin(hint) is tuple:
        return tuple
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        if inner == [FixPlan]:
            return cache._optional_plan
        assert len(inner) == 1 and converter_for(inner[0]) is None, f"no converter in run.cache for {hint}"
    assert hint is not FixPlan, "a plan that is not optional has no converter in run.cache"
    return None


@pytest.mark.parametrize(
    ("cls", "names", "converters"),
    [
        (FixPlan, cache._PLAN_NAMES, cache._PLAN_CONVERTERS),
        (Finding, cache._FINDING_NAMES, cache._FINDING_CONVERTERS),
        (Export, cache._EXPORT_FIELDS, (None,) * len(fields_of(Export))),
    ],
    ids=["FixPlan", "Finding", "Export"],
)
def test_the_cache_layouts_match_the_classes(
    cls: type[Any], names: tuple[str, ...], converters: tuple[Callable[[Any], Any] | None, ...]
) -> None:
    hints = typing.get_type_hints(cls.__init__)
    assert names == fields_of(cls)
    assert len(converters) == len(names)
    assert converters == tuple(converter_for(hints[name]) for name in names)


OLD_ENTRY: list[Any] = [
    None,
    True,
    [
        [
            "app/old.py", 124, 10, 124, "POOL101", "httpx", "per-request", False, "_fetch_jwt",
            "with httpx.Client(timeout=10) as client:", True, "",
            "`httpx.Client` opened and closed around one call (a new client per call)", "safe", False,
            ["with", "httpx", "get_sync_http_client", "httpx-sync", False, "client", [], ["timeout"], None,
             False, [], []],
            34, "", False,
        ],
        [
            "app/old.py", 45, 12, 45, "POOL301", "httpx", "unclear", False, "create_client",
            "return httpx.Client()", False, "the function returns the client", "returns a new client",
            "none", True, None, 26, "app/x.py:3", True,
        ],
    ],
    [["factory", "create_client", 45, "create_client", "httpx", "Client", "", "", False, "", -1]],
]  # fmt: skip
"""An entry as the dataclass version (3a15053) wrote it, from a scan of a real tree."""


def test_an_entry_written_before_decodes_and_encodes_back_the_same() -> None:
    """The on-disk layout did not change (same field order), so `CACHE_FORMAT` stays."""
    scan = cache.decode_scan(json.loads(json.dumps(OLD_ENTRY)), "app/new.py")
    first, second = scan.findings
    assert first.path == "app/new.py" and first.verdict is Verdict.PER_REQUEST
    assert first.applicability is Applicability.SAFE
    assert first.plan == FixPlan(
        "with", "httpx", "get_sync_http_client", "httpx-sync", False, "client", (), ("timeout",), None, False
    )
    assert (second.suppressed, second.plan, second.via, second.closes_via) == (True, None, "app/x.py:3", True)
    assert scan.exports == (Export("factory", "create_client", 45, "create_client", "httpx", "Client"),)
    expected = copy.deepcopy(OLD_ENTRY)
    for raw in expected[2]:
        raw[0] = "app/new.py"  # a content hit is labelled with the path that asked
    assert json.loads(json.dumps(cache.encode_scan(scan))) == expected

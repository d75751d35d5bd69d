"""The validator against ClickHouse itself: for random values at and beyond each column's
boundaries, "the validator accepts" must imply "ClickHouse stores it unchanged". Rows go into
a real chdb table made by vitrina's DDL and are read back."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vitrina.intake.validate import StreamValidator
from vitrina.streams.declare import Stream
from vitrina.streams.fields import Field
from vitrina.warehouse.client import Warehouse, parse_dsn
from vitrina.warehouse.schema import migrate

U64, I64_LO, I64_HI = 2**64 - 1, -(2**63), 2**63 - 1
INTS = {  # field: (declaration, accepted range)
    "u64": (Field("u64", "uint", required=False, default=0), (0, U64)),
    "u8": (Field("u8", "uint", required=False, default=0, le=255), (0, 255)),
    "u16": (Field("u16", "uint", required=False, default=0, le=65535), (0, 65535)),
    "u32": (Field("u32", "uint", required=False, default=0, le=2**32 - 1), (0, 2**32 - 1)),
    "ub": (Field("ub", "uint", required=False, default=10, ge=10, le=1000), (10, 1000)),
    "i64": (Field("i64", "int", required=False, default=0), (I64_LO, I64_HI)),
    "ib": (Field("ib", "int", required=False, default=0, ge=-5, le=5), (-5, 5)),
}
TIMES = {  # field: (declaration, decimals kept)
    "t0": (Field("t0", "timestamp", required=False, precision=0), 0),
    "t3": (Field("t3", "timestamp", required=False, precision=3), 3),
    "t6": (Field("t6", "timestamp", required=False, precision=6), 6),
    "t9": (Field("t9", "timestamp", required=False, precision=9), 9),
    "tns": (Field("tns", "timestamp", required=False, storage="epoch_ns"), 9),
}
OTHERS = (
    Field("f64", "float", required=False, default=0.0),
    Field("fb", "float", required=False, default=0.0, ge=0, le=1),
    Field("s", "string", required=False, default="", max_length=8),
    Field("sn", "string", required=False, nullable=True),
    Field("mu", "map_uint", required=False),
    Field("ms", "map_string", required=False),
    Field("af", "array_float", required=False),
    Field("ident", "id", required=False, default=""),
    Field("js", "json", required=False),
    Field("b", "bool", required=False, default=False),
    Field("e", "enum", required=False, default="a", values=("a", "b")),
)
PROBE = Stream(
    name="probe",
    fields=(
        Field("row", "uint"),
        *(f for f, _ in INTS.values()),
        *(f for f, _ in TIMES.values()),
        *OTHERS,
    ),
    time_field="t3",
    order_by=("row",),
)
VALIDATOR = StreamValidator(PROBE)


@pytest.fixture(scope="module")
def warehouse() -> Iterator[Warehouse]:
    folder = Path(tempfile.mkdtemp(prefix="vitrina-ranges-"))
    wh = Warehouse(parse_dsn(f"chdb://{folder / 'ch'}"))
    migrate(wh, [PROBE])
    yield wh
    wh.close()
    shutil.rmtree(folder, ignore_errors=True)


# -- values ---------------------------------------------------------------------------------

EDGES = sorted({e + d for e in (0, 5, 10, 255, 1000, 65535, 2**32 - 1, I64_HI, U64, I64_LO, -5) for d in (-2, -1, 0, 1, 2)})
integers = st.one_of(st.sampled_from(EDGES), st.integers(-1000, 1000), st.integers(-(2**66), 2**66))
floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.0, 0.1]),
    st.integers(-(2**70), 2**70),  # integers are valid floats: stored as the nearest double
)
text = st.one_of(st.text(max_size=12), st.sampled_from(["", "\x00", "a\x00b", "é" * 8, "😀" * 8, "\\", '"', "\u2028"]))
BAD_UTF8 = object()  # stands for raw bytes that are not UTF-8, spliced into the body
MIN_NS, MAX_NS = 0, 2**63 - 1
nanos = st.one_of(
    st.sampled_from([MIN_NS - 1, MIN_NS, MAX_NS, MAX_NS + 1, 999_999_999_999_999_999]), st.integers(-(10**18), MAX_NS + 10**18)
)
# Units by magnitude, as documented for unit "auto": below 1e11 s, 1e14 ms, 1e17 us, else ns.
BANDS = ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3))


def auto_scale(number: int) -> int:
    return next((scale for below, scale in BANDS if abs(number) < below), 1)


@st.composite
def times(draw: st.DrawFn) -> tuple[Any, Fraction]:
    """A time as sent and the instant (in ns) it stands for."""
    ns = draw(nanos)
    form = draw(st.sampled_from(["int", "text", "float"]))
    if form == "int":
        number = ns // draw(st.sampled_from([1, 10**3, 10**6, 10**9]))
        return number, Fraction(number * auto_scale(number))
    if form == "text" and -62_135_596_800 * 10**9 < ns < 253_402_300_799 * 10**9:  # years 1 .. 9999
        secs, frac = divmod(ns, 10**9)
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=secs)
        return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z", Fraction(ns)
    seconds = ns / 1e9
    return seconds, Fraction(seconds) * 10**9


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name in draw(st.sets(st.sampled_from([*INTS, *TIMES, *(f.name for f in OTHERS)]), min_size=1, max_size=3)):
        if name in INTS:
            item[name] = draw(integers)
        elif name in TIMES:
            item[name] = draw(times())
        elif name in ("f64", "fb"):
            item[name] = draw(floats)
        elif name in ("s", "sn"):
            item[name] = draw(st.one_of(text, st.just(BAD_UTF8), st.none()))
        elif name == "mu":
            item[name] = draw(st.dictionaries(text, integers, max_size=3))
        elif name == "ms":
            item[name] = draw(st.dictionaries(text, text, max_size=3))
        elif name == "af":
            item[name] = draw(st.lists(floats, max_size=3))
        elif name == "ident":
            item[name] = draw(st.one_of(integers, st.text(max_size=300)))
        elif name == "js":
            item[name] = draw(
                st.recursive(st.none() | st.booleans() | integers | text, lambda c: st.lists(c) | st.dictionaries(text, c), max_leaves=5)
            )
        elif name == "b":
            item[name] = draw(st.one_of(st.booleans(), st.integers(0, 1)))
        else:
            item[name] = draw(st.sampled_from(["a", "b", "c", ""]))
    return item


def body_of(row: int, item: dict[str, Any]) -> bytes:
    sent = {"row": row} | {k: (v[0] if k in TIMES else ("BADUTF8" if v is BAD_UTF8 else v)) for k, v in item.items()}
    return json.dumps(sent, ensure_ascii=False, separators=(",", ":")).encode().replace(b'"BADUTF8"', b'"\xff\xfeab"')


# -- reading back -----------------------------------------------------------------------------

COLUMNS = ", ".join([*INTS, *(f"toUnixTimestamp64Nano({t}) AS {t}" if t != "tns" else t for t in TIMES), *(f.name for f in OTHERS)])


def stored_row(wh: Warehouse, row: int) -> dict[str, Any]:
    result = wh.query(f"SELECT {COLUMNS} FROM {wh.database}.probe WHERE row = {row}")
    assert len(result.result_rows) == 1, f"row {row} was accepted but ClickHouse holds {len(result.result_rows)} rows"
    return dict(zip(result.column_names, result.result_rows[0], strict=True))


def assert_time(name: str, got: int, instant: Fraction) -> None:
    unit = 10 ** (9 - TIMES[name][1])
    # Floats carry microseconds at best (documented): within half a microsecond, then the
    # column's precision truncates.
    slack = 500 if instant.denominator != 1 or instant % 1000 else 0
    assert instant - slack - unit < got <= instant + slack, (name, got, float(instant))


def assert_stored(name: str, sent: Any, got: Any) -> None:
    if name in INTS or name in ("b", "e", "s", "sn", "ms"):
        assert (got == sent and type(got) is type(sent)) or (name == "b" and got == bool(sent)), (name, sent, got)
    elif name in ("f64", "fb"):
        assert got == float(sent) and math.copysign(1, got) == math.copysign(1, float(sent)), (name, sent, got)
    elif name == "af":
        assert got == [float(x) for x in sent], (name, sent, got)
    elif name == "mu":
        assert got == sent, (name, sent, got)
    elif name == "ident":
        assert got == (sent if isinstance(sent, str) else str(sent)), (name, sent, got)
    elif name == "js":
        assert got == (None if sent is None else json.dumps(sent, ensure_ascii=False, separators=(",", ":"))), (name, sent, got)


_rows = iter(range(1, 10**9))


def test_accepted_means_stored_unchanged(warehouse: Warehouse) -> None:
    outcomes = {"accepted": 0, "refused": 0}

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(item=items())
    def check(item: dict[str, Any]) -> None:
        row = next(_rows)
        checked = VALIDATOR.check_json(body_of(row, item), arrival_ns=1_700_000_000_000_000_000)
        if not checked.count:
            outcomes["refused"] += 1
            assert checked.problems and checked.problems[0].field is not None, checked.problems
            return
        outcomes["accepted"] += 1
        warehouse.insert_json_rows("probe", checked.rows)
        got = stored_row(warehouse, row)
        for name, sent in item.items():
            if name in TIMES:
                assert_time(name, got[name], sent[1])
            else:
                assert_stored(name, sent, got[name])

    check()
    # Both sides of the boundaries were tried, not only one.
    assert outcomes["accepted"] >= 100 and outcomes["refused"] >= 50, outcomes


@pytest.mark.parametrize("name", list(INTS))
def test_integer_boundaries_exactly(warehouse: Warehouse, name: str) -> None:
    """Both directions at every edge: accepted inside the range (and stored exactly), refused
    just outside it, with the field named."""
    lo, hi = INTS[name][1]
    for value in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1):
        row = next(_rows)
        checked = VALIDATOR.check_json(body_of(row, {name: value}), arrival_ns=1_700_000_000_000_000_000)
        if lo <= value <= hi:
            assert checked.count == 1, (name, value, checked.problems)
            warehouse.insert_json_rows("probe", checked.rows)
            assert stored_row(warehouse, row)[name] == value
        else:
            assert checked.count == 0 and checked.problems[0].field == name, (name, value)


@pytest.mark.parametrize("name", list(TIMES))
def test_time_boundaries_exactly(warehouse: Warehouse, name: str) -> None:
    keep = 10 ** (9 - TIMES[name][1])
    for sent, ns in (("1970-01-01T00:00:00Z", 0), (0, 0), ("2262-04-11T23:47:16.854775807Z", MAX_NS), (MAX_NS, MAX_NS)):
        row = next(_rows)
        checked = VALIDATOR.check_json(body_of(row, {name: (sent, ns)}), arrival_ns=0)
        assert checked.count == 1, (name, sent, checked.problems)
        warehouse.insert_json_rows("probe", checked.rows)
        assert stored_row(warehouse, row)[name] == ns // keep * keep
    for sent in ("1969-12-31T23:59:59.999999999Z", -1, "2262-04-11T23:47:16.854775808Z", MAX_NS + 1):
        checked = VALIDATOR.check_json(body_of(next(_rows), {name: (sent, 0)}), arrival_ns=0)
        assert checked.count == 0 and checked.problems[0].field == name, (name, sent)

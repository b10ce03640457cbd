"""Arrow in (issue 18, item 3): bulk_append() with Arrow columns,
Timelog.from_arrow(), tz-aware pandas timestamps.

Every result is compared record by record with ``list(log)``.
"""

import pickle
from fractions import Fraction

import numpy as np
import pytest

from timelog import Timelog

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (requirements-dev.txt)")

UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


@pytest.fixture
def log():
    lg = Timelog(time_unit="ms", maintenance="disabled")
    yield lg
    lg.close()


# ---------------------------------------------------------------- bulk_append


@pytest.mark.parametrize("src", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("dst", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_bulk_append_arrow_timestamps_every_unit(src, dst, tz):
    # values chosen so that a finer unit has a remainder to floor, negatives too
    raw = [-1_500_000_123, -1, 0, 7, 1_700_000_999]
    col = pa.array(raw, type=pa.timestamp(src, tz=tz))
    with Timelog(time_unit=dst, maintenance="disabled") as lg:
        lg.bulk_append(col, list(range(len(raw))))
        want = [(v * UNIT_NS[src]) // UNIT_NS[dst] for v in raw]
        assert list(lg) == sorted(zip(want, range(len(raw))))


def test_bulk_append_arrow_int_columns(log):
    log.bulk_append(pa.array([3, 1, 2], type=pa.int64()), ["c", "a", "b"])
    log.bulk_append(pa.array([5], type=pa.int8()), ["i8"])
    log.bulk_append(pa.array([6], type=pa.uint32()), ["u32"])
    log.bulk_append(pa.chunked_array([[7, 8], [9]]), ["x", "y", "z"])  # several chunks
    log.bulk_append(pa.chunked_array([], type=pa.int64()), [])
    assert list(log) == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (5, "i8"),
        (6, "u32"),
        (7, "x"),
        (8, "y"),
        (9, "z"),
    ]


def test_bulk_append_arrow_single_chunk_is_not_copied(log):
    # one chunk without nulls is read in place: its buffer is what NumPy sees
    from timelog import _arrow_in

    arr = pa.array(np.arange(10, dtype=np.int64))
    got = _arrow_in.timestamp_column(arr)
    assert got.ctypes.data == arr.buffers()[1].address
    ts = pa.array(np.arange(10, dtype=np.int64), type=pa.timestamp("ms", tz="UTC"))
    assert _arrow_in.timestamp_column(ts).ctypes.data == ts.buffers()[1].address


def test_bulk_append_arrow_objects_are_python_values(log):
    log.bulk_append(
        pa.array([1, 2, 3, 4]), pa.array([1.5, None, 2.5, float("nan")], type=pa.float64())
    )
    got = [v for _, v in log]
    assert got[:3] == [1.5, None, 2.5] and type(got[0]) is float and got[3] != got[3]
    log.bulk_append(pa.array([5, 6]), pa.array([{"a": 1}, None]))
    assert log[5] == [{"a": 1}] and log[6] == [None]


def test_bulk_append_arrow_null_timestamp_stores_nothing(log):
    log[0] = "kept"
    with pytest.raises(ValueError, match=r"row 2 is null .*nothing was stored"):
        log.bulk_append(pa.array([1, 2, None, None]), ["a", "b", "c", "d"])
    with pytest.raises(ValueError, match="row 1 is null"):
        log.bulk_append(pa.chunked_array([[1], [None]], type=pa.timestamp("s")), ["a", "b"])
    assert list(log) == [(0, "kept")]


@pytest.mark.parametrize(
    "col,match",
    [
        (pa.array([1.5]), "type double is not a timestamp"),
        (pa.array(["2024-01-01"]), "type string is not a timestamp"),
        (pa.array([1], type=pa.date32()), "a date column: cast it"),
        (pa.array([1], type=pa.duration("s")), "duration"),
        (pa.table({"ts": [1]}), "is a pyarrow Table"),
        (pa.array([{"ts": 1}]), "is a table"),
    ],
)
def test_bulk_append_arrow_bad_types(log, col, match):
    with pytest.raises(TypeError, match=match):
        log.bulk_append(col, ["x"])
    assert len(log) == 0


def test_bulk_append_arrow_overflow(log):
    big = 2**62  # seconds: * 1000 does not fit int64
    with pytest.raises(OverflowError, match="outside the int64 range.*nothing was stored"):
        log.bulk_append(pa.array([0, big], type=pa.timestamp("s")), ["a", "b"])
    assert len(log) == 0
    with Timelog(time_unit="s", maintenance="disabled") as lg:  # same unit: fine
        lg.bulk_append(pa.array([big], type=pa.timestamp("s")), ["b"])
        assert list(lg) == [(big, "b")]


def test_bulk_append_uint64_above_int64(log):
    with pytest.raises(TypeError, match="above 2\\*\\*63-1"):
        log.bulk_append(pa.array([2**63], type=pa.uint64()), ["x"])


def test_bulk_append_int64_extremes(log):
    lo, hi = -(2**63), 2**63 - 1
    log.bulk_append(pa.array([hi, lo]), ["hi", "lo"])
    assert list(log) == [(lo, "lo"), (hi, "hi")]


def test_bulk_append_polars_series(log):
    pl = pytest.importorskip("polars", reason="polars is not installed (requirements-dev.txt)")
    s = pl.Series("ts", [3, 1, 2])
    log.bulk_append(s, pl.Series(["c", "a", "b"]))
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]
    dt = pl.Series([0, 2_000_000]).cast(pl.Datetime("us", "Europe/Paris"))
    log.bulk_append(dt, ["p0", "p1"])
    assert log[0] == ["p0"] and log[2000] == ["p1"]
    with pytest.raises(ValueError, match="row 1 is null"):
        log.bulk_append(pl.Series([1, None]), ["x", "y"])
    assert len(log) == 5


# ---------------------------------------------------------------- pandas tz-aware


def test_bulk_append_tz_aware_pandas():
    pd = pytest.importorskip("pandas", reason="pandas is not installed (requirements-dev.txt)")
    idx = pd.DatetimeIndex(["2024-01-01 01:00", "2024-01-01 01:00:00.0015"], tz="Europe/Paris")
    utc_ms = [1704067200000, 1704067200001]
    with Timelog(time_unit="ms", maintenance="disabled") as lg:
        lg.bulk_append(idx, ["i0", "i1"])
        lg.bulk_append(pd.Series(idx), ["s0", "s1"])
        lg.bulk_append(idx.tz_convert("Asia/Tokyo"), ["t0", "t1"])  # same instants
        assert lg[utc_ms[0]] == ["i0", "s0", "t0"]
        assert lg[utc_ms[1]] == ["i1", "s1", "t1"]
        with pytest.raises(ValueError, match="NaT"):
            lg.bulk_append(pd.DatetimeIndex([pd.NaT], tz="UTC"), ["x"])
        assert len(lg) == 6
    with Timelog(time_unit="ns", maintenance="disabled") as lg:
        lg.bulk_append(idx.as_unit("s"), ["a", "b"])  # a coarser pandas unit
        assert lg.timestamps().tolist() == [1704067200 * 10**9] * 2


# ---------------------------------------------------------------- from_arrow


def test_from_arrow_table_keeps_unit_order_and_duplicates():
    t = pa.table(
        {
            "ts": pa.array([60, 0, 60, 60], pa.timestamp("s", tz="Europe/Paris")),
            "value": ["b", "a", "c", "d"],
        }
    )
    with Timelog.from_arrow(t, maintenance="disabled") as lg:
        assert lg.time_unit == "s" and lg.maintenance_mode == "disabled"
        assert list(lg) == [(0, "a"), (60, "b"), (60, "c"), (60, "d")]


def test_from_arrow_time_unit_and_int_columns():
    t = pa.table({"ts": pa.array([1_500, 2_999], pa.timestamp("ms")), "value": [1, 2]})
    with Timelog.from_arrow(t, time_unit="s") as lg:
        assert list(lg) == [(1, 1), (2, 2)]  # floored
    with Timelog.from_arrow(t, time_unit="us") as lg:
        assert list(lg) == [(1_500_000, 1), (2_999_000, 2)]
    ints = pa.table({"time": [5, 3], "value": [None, "x"]})
    with Timelog.from_arrow(ints, ts="time") as lg:
        assert lg.time_unit == "ms"  # integers: the Timelog default
        assert list(lg) == [(3, "x"), (5, None)]


def test_from_arrow_value_options():
    t = pa.table({"ts": [2, 1], "price": [1.5, 2.5], "sym": ["a", None]})
    with Timelog.from_arrow(t, value="price") as lg:
        assert list(lg) == [(1, 2.5), (2, 1.5)]
    with Timelog.from_arrow(t, value=["price", "sym"]) as lg:
        assert list(lg) == [(1, {"price": 2.5, "sym": None}), (2, {"price": 1.5, "sym": "a"})]
    with Timelog.from_arrow(t, value=None) as lg:
        assert list(lg) == [(1, None), (2, None)]
    with pytest.raises(ValueError, match="no column 'value' .*'ts', 'price', 'sym'"):
        Timelog.from_arrow(t)
    with pytest.raises(ValueError, match="no timestamp column 'time'"):
        Timelog.from_arrow(t, ts="time", value="price")
    with pytest.raises(ValueError, match="is the timestamp column"):
        Timelog.from_arrow(t, value="ts")
    with pytest.raises(TypeError, match="value must be"):
        Timelog.from_arrow(t, value=3)


@pytest.mark.parametrize(
    "values",
    [
        [1, 2, None],
        [1.5, float("inf"), None],
        [True, False, None],
        ["a", "", None],
        [b"x", b"\x00", None],
        [{"a": 1, "b": "x"}, None, {"a": 2, "b": None}],
        [None, None, None],
    ],
    ids=["int", "float", "bool", "str", "bytes", "struct", "null"],
)
def test_from_arrow_payload_kinds_round_trip_the_export(values):
    with Timelog(maintenance="disabled") as src:
        src.extend([(i, v) for i, v in enumerate(values)])
        with Timelog.from_arrow(src.to_arrow()) as lg:
            assert list(lg) == list(src)
            assert [type(v) for _, v in lg] == [type(v) for v in values]


def test_from_arrow_pickle_column_needs_a_decision():
    objs = [Fraction(1, 3), {"nested": [1, (2, 3)]}, None, 3 + 4j]
    with Timelog(time_unit="us", maintenance="disabled") as src:
        src.extend(list(enumerate(objs)))
        table = src.to_arrow(payload="pickle")
        with pytest.raises(ValueError, match="pass unpickle=True"):
            Timelog.from_arrow(table)
        with Timelog.from_arrow(table, unpickle=True) as lg:
            assert list(lg) == list(src) and lg.time_unit == "us"
        with Timelog.from_arrow(src.arrow(payload="pickle"), unpickle=True) as lg:
            assert list(lg) == list(src)  # the stream itself
        with Timelog.from_arrow(table, unpickle=False) as lg:
            assert [pickle.loads(v) for _, v in lg] == objs
    bad = pa.table({"ts": [1], "value": pa.array([b"not a pickle"])})
    with pytest.raises(ValueError, match="row 0: not a valid pickle"):
        Timelog.from_arrow(bad, unpickle=True)
    with pytest.raises(TypeError, match="not binary"):
        Timelog.from_arrow(pa.table({"ts": [1], "value": [1]}), unpickle=True)


def test_from_arrow_bad_input_builds_nothing():
    with pytest.raises(ValueError, match="column 'ts': row 1 is null"):
        Timelog.from_arrow(pa.table({"ts": [1, None], "value": [1, 2]}))
    with pytest.raises(TypeError, match="column 'ts': Arrow column of type double"):
        Timelog.from_arrow(pa.table({"ts": [1.5], "value": [1]}))
    with pytest.raises(OverflowError, match="column 'ts'.*outside the int64 range"):
        Timelog.from_arrow(
            pa.table({"ts": pa.array([2**62], pa.timestamp("s")), "value": [1]}), time_unit="ns"
        )
    with pytest.raises(TypeError, match="expected Arrow data"):
        Timelog.from_arrow([(1, "a")])
    with pytest.raises(ValueError, match="time_unit"):
        Timelog.from_arrow(pa.table({"ts": [1], "value": [1]}), time_unit="days")
    with pytest.raises(TypeError, match="unpickle"):
        Timelog.from_arrow(pa.table({"ts": [1], "value": [1]}), unpickle="yes")


def test_from_arrow_record_batch_reader_and_chunks():
    batches = [
        pa.record_batch({"ts": [3, 4], "value": ["c", "d"]}),
        pa.record_batch({"ts": [1, 2], "value": ["a", "b"]}),
    ]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
    with Timelog.from_arrow(reader) as lg:
        assert list(lg) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    with Timelog.from_arrow(batches[1]) as lg:
        assert list(lg) == [(1, "a"), (2, "b")]
    with Timelog.from_arrow(pa.table({"ts": pa.array([], pa.int64()), "value": []})) as lg:
        assert len(lg) == 0


def test_from_arrow_subclass_and_settings():
    class My(Timelog):
        pass

    t = pa.table({"ts": [1], "value": ["a"]})
    with My.from_arrow(t, busy_policy="flush", maintenance="disabled") as lg:
        assert type(lg) is My and lg.busy_policy == "flush"


def test_from_arrow_polars():
    pl = pytest.importorskip("polars", reason="polars is not installed (requirements-dev.txt)")
    df = pl.DataFrame({"ts": [2, 1, 2], "x": [0.5, 1.5, 2.5], "y": ["a", "b", None]}).with_columns(
        pl.col("ts").cast(pl.Datetime("ns", "UTC"))
    )
    with Timelog.from_arrow(df, value=["x", "y"]) as lg:
        assert lg.time_unit == "ns"
        assert list(lg) == [
            (1, {"x": 1.5, "y": "b"}),
            (2, {"x": 0.5, "y": "a"}),
            (2, {"x": 2.5, "y": None}),
        ]
    with Timelog(maintenance="disabled") as src:
        src.extend([(5, "e"), (1, "a"), (5, "f")])
        with Timelog.from_arrow(src.to_polars()) as lg:
            assert list(lg) == list(src)


def test_from_arrow_duckdb():
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (requirements-dev.txt)")
    rel = duckdb.sql(
        "select (timestamp '2024-01-01' + to_seconds(i)) as ts, i * 1.5 as value "
        "from range(3) t(i) order by i desc"
    )
    with Timelog.from_arrow(rel) as lg:
        assert lg.time_unit == "us"
        base = 1704067200 * 10**6
        assert [t for t, _ in lg] == [base, base + 10**6, base + 2 * 10**6]
        assert [float(v) for _, v in lg] == [0.0, 1.5, 3.0]
    with Timelog(maintenance="disabled") as src:
        src.extend([(3, 1.0), (1, 2.0)])
        it = src[0:10]  # noqa: F841 (DuckDB reads the iterator by name)
        res = duckdb.sql("select ts, value * 2 as value from it")
        with Timelog.from_arrow(res) as lg:  # DuckDB's TIMESTAMPTZ is in us
            assert lg.time_unit == "us" and list(lg) == [(1000, 4.0), (3000, 2.0)]
        with Timelog.from_arrow(res, time_unit="ms") as lg:
            assert list(lg) == [(1, 4.0), (3, 2.0)]


def test_from_arrow_pandas_dataframe():
    pd = pytest.importorskip("pandas", reason="pandas is not installed (requirements-dev.txt)")
    df = pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(["2024-01-01 01:00", "2024-01-01 00:30"], tz="Europe/Paris"),
            "value": [1, 2],
        }
    )
    table = pa.Table.from_pandas(df, preserve_index=False)
    with Timelog.from_arrow(table, time_unit="s") as lg:
        assert list(lg) == [(1704065400, 2), (1704067200, 1)]
    with Timelog.from_arrow(df, time_unit="s") as lg:  # pandas' own __arrow_c_stream__
        assert list(lg) == [(1704065400, 2), (1704067200, 1)]


def test_from_arrow_of_to_pandas_round_trips():
    pytest.importorskip("pandas", reason="pandas is not installed (requirements-dev.txt)")
    with Timelog(time_unit="us", maintenance="disabled") as src:
        src.extend([(2, "b"), (1, "a"), (2, "c")])
        with Timelog.from_arrow(src.to_pandas()) as lg:  # the index "ts" is a column
            assert lg.time_unit == "us" and list(lg) == list(src)


def test_int64_min_with_a_unit_change_names_the_value_not_nat(log):
    # -2**63 is a valid Arrow timestamp; converted into another unit through
    # NumPy it would read as NaT. The error says what the column holds, and
    # nothing is stored; in the column's own unit it is stored as is.
    log[5] = "keep"
    col = pa.array([0, -(2**63)], type=pa.timestamp("ns", tz="UTC"))
    with pytest.raises(ValueError, match=r"row 1 holds -2\*\*63 ns.*time_unit is 'ns'"):
        log.bulk_append(col, ["a", "b"])
    assert list(log) == [(5, "keep")]
    with Timelog(time_unit="ns", maintenance="disabled") as lg:
        lg.bulk_append(col, ["a", "b"])
        assert list(lg) == [(-(2**63), "b"), (0, "a")]

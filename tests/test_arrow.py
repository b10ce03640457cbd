"""Arrow hand-off (issue 18 items 1-2): __arrow_c_stream__, arrow(), to_arrow(),
to_polars(), to_pandas(tz=).

Every consumer's result is compared record by record with ``list(log[t1:t2])``.
Zero copy is checked by address: the ts buffer of an exported flushed range
is the page memory a PageSpan shows.
"""

import gc
import pickle
import random
import sys
import threading

import pytest

import timelog
from timelog import Timelog

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (requirements-dev.txt)")

UNITS = {"s": "s", "ms": "ms", "us": "us", "ns": "ns"}


def pins(log):
    return log.stats()["operational"]["snapshots"]


def records(table):
    """[(int ts, payload)] of a pyarrow table with columns ts, value."""
    ts = table.column("ts").cast(pa.int64()).to_pylist()
    if "value" not in table.column_names:
        return ts
    return list(zip(ts, table.column("value").to_pylist()))


def layered_log(n=3000, seed=7):
    """A log with L1 segments, overlapping L0 segments, a memtable, duplicates
    and deletes; float payloads (None here and there)."""
    rng = random.Random(seed)
    log = Timelog(maintenance="disabled")
    log.extend((t, float(t)) for t in range(0, n, 2))
    log.flush()
    log.compact()
    log.extend((t, float(t) + 0.5) for t in range(n // 2, n + n // 2, 3))
    log.flush()
    log.extend((rng.randrange(0, 2 * n), None) for _ in range(200))
    log.flush()
    del log[100:140]
    log.extend((t, float(-t)) for t in range(n, 2 * n, 5))  # memtable
    log.append(120, 1.25)  # after the delete
    return log


RANGES = [
    (None, None),
    (0, 10),
    (50, 700),
    (100, 140),
    (120, 121),
    (2500, None),
    (None, 1000),
    (5000, 5000),
    (10, 5),
    (-(10**18), 10**18),
]


@pytest.mark.parametrize("t1,t2", RANGES)
def test_pyarrow_table_of_a_range_matches_iteration(t1, t2):
    log = layered_log()
    expect = list(log.range(t1, t2))
    table = pa.table(log.range(t1, t2))
    assert table.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert not table.schema.field("ts").nullable
    assert records(table) == expect
    assert records(log.to_arrow(t1, t2)) == expect
    assert log.to_arrow(t1, t2, payload=None).column_names == ["ts"]
    assert records(log.to_arrow(t1, t2, payload=None)) == [t for t, _ in expect]
    log.close()


def test_whole_log_and_slices_are_streams():
    log = layered_log()
    assert records(pa.table(log)) == list(log)
    assert records(pa.table(log[50:700])) == list(log[50:700])
    assert records(pa.table(log.point(120))) == list(log.point(120))
    assert records(pa.table(log.since(2500))) == list(log.since(2500))
    assert records(pa.table(log.until(900))) == list(log.until(900))
    log.close()


def test_random_layouts_match_iteration():
    # Random appends, flushes, compactions and deletes; many ranges each.
    for seed in range(12):
        rng = random.Random(seed)
        log = Timelog(maintenance="disabled")
        for _ in range(rng.randrange(3, 9)):
            op = rng.random()
            if op < 0.5:
                base = rng.randrange(0, 3000)
                log.extend((base + rng.randrange(0, 500), rng.random()) for _ in range(300))
            elif op < 0.7:
                log.flush()
            elif op < 0.8:
                log.compact()
            else:
                a = rng.randrange(0, 3500)
                del log[a : a + rng.randrange(1, 200)]
        for _ in range(10):
            a = rng.randrange(-10, 3600)
            b = a + rng.randrange(0, 1500)
            assert records(pa.table(log[a:b])) == list(log[a:b]), (seed, a, b)
        assert records(pa.table(log)) == list(log), seed
        log.close()


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_unit_follows_time_unit(unit):
    log = Timelog(time_unit=unit, maintenance="disabled")
    log.extend([(0, "a"), (1, "b"), (2**62, "c")])
    table = pa.table(log)
    assert table.schema.field("ts").type == pa.timestamp(unit, tz="UTC")
    assert records(table) == list(log)
    log.close()


def test_zero_copy_page_address_and_lifetime():
    log = Timelog(maintenance="disabled")
    log.extend((t, t * 0.5) for t in range(10_000))
    log.flush()
    spans = list(log.views(1000, 9000))
    assert len(spans) == 1
    table = pa.table(log[1000:9000])
    chunk = table.column("ts").chunk(0)
    assert table.column("ts").num_chunks == 1
    assert chunk.buffers()[1].address == spans[0].timestamps.ctypes.data == spans[0]._address
    expect = list(log[1000:9000])
    for s in spans:
        s.close()
    del spans
    # Compaction rewrites the pages and close tears the engine down; the
    # table keeps the old pages pinned.
    log.compact()
    log.close()
    gc.collect()
    assert records(table) == expect
    assert table.column("ts").chunk(0).buffers()[1].address == chunk.buffers()[1].address


def test_zero_copy_one_chunk_per_span_and_copied_memtable():
    log = Timelog(maintenance="disabled")
    log.extend((t, None) for t in range(1000))
    log.flush()
    log.extend((t, None) for t in range(2000, 3000))
    log.flush()
    log.extend((t, None) for t in range(5000, 5100))  # stays in the memtable
    addrs = {s._address for s in log.views()}
    table = pa.table(log)
    col = table.column("ts")
    assert col.num_chunks == 3
    assert {col.chunk(i).buffers()[1].address for i in range(2)} == addrs
    assert col.chunk(2).buffers()[1].address not in addrs  # the memtable is copied
    assert records(table) == list(log)
    log.close()


def test_pins_released_when_the_consumer_drops_the_data():
    log = Timelog(maintenance="disabled")
    log.extend((t, float(t)) for t in range(5000))
    log.flush()
    gc.collect()
    base = pins(log)
    table = pa.table(log[10:4000])
    batches = table.to_batches()
    assert pins(log) == base + 1
    del table
    gc.collect()
    assert pins(log) == base + 1  # a batch still holds the pages
    del batches
    gc.collect()
    assert pins(log) == base
    # A capsule nobody imports releases its pin when it is dropped.
    cap = log.__arrow_c_stream__()
    assert pins(log) == base + 1
    del cap
    gc.collect()
    assert pins(log) == base
    # A stream read partly, then dropped.
    reader = pa.RecordBatchReader.from_stream(log.arrow(payload=None))
    reader.read_next_batch()
    del reader
    gc.collect()
    assert pins(log) == base
    log.close()


def test_release_on_another_thread():
    log = Timelog(maintenance="disabled")
    log.extend((t, float(t)) for t in range(5000))
    log.flush()
    base = pins(log)
    cap = log.arrow(0, 4000).__arrow_c_stream__()
    out = []

    def consume(capsule):
        table = pa.RecordBatchReader._import_from_c_capsule(capsule).read_all()
        out.append(records(table) == list(zip(range(4000), map(float, range(4000)))))
        del table

    th = threading.Thread(target=consume, args=(cap,))
    th.start()
    th.join(timeout=60)
    del cap
    gc.collect()
    assert out == [True]
    assert pins(log) == base
    log.close()


def test_the_objects_outlive_nothing_they_should_not():
    # The export's payloads are converted copies: deleting and dropping the
    # stored objects does not change an exported table.
    log = Timelog(maintenance="disabled")
    log.extend((t, "v%d" % t) for t in range(100))
    log.flush()
    table = log.to_arrow()
    del log[0:100]
    log.compact()
    log.close()
    gc.collect()
    assert table.column("value").to_pylist() == ["v%d" % t for t in range(100)]


def test_iterator_export_leaves_the_iterator_and_covers_what_is_left():
    log = layered_log()
    it = log[0:2000]
    first = [next(it) for _ in range(5)]
    batch = it.next_batch(300)
    rest = list(log[0:2000])[5 + len(batch) :]
    assert records(pa.table(it)) == rest
    assert records(pa.table(it)) == rest  # repeatable (DuckDB asks twice)
    assert first + batch + list(it) == list(log[0:2000])
    assert records(pa.table(it)) == []  # exhausted
    log.close()


def test_empty_ranges_and_empty_log():
    log = Timelog(time_unit="us", maintenance="disabled")
    for table in (pa.table(log), log.to_arrow(5, 5), log.to_arrow(9, 3)):
        assert table.num_rows == 0
        assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    log.extend([(1, 1), (2, 2)])
    assert pa.table(log[5:9]).num_rows == 0
    assert log.to_arrow(5, 9).schema.field("value").type == pa.null()
    log.close()


def test_deletes_are_applied():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(1000))
    log.flush()
    del log[100:200]
    log.extend((t, -t) for t in range(150, 160))
    del log[500:]
    assert records(pa.table(log)) == list(log)
    assert log.to_arrow().num_rows == 100 + 10 + 300
    log.close()


def test_payload_types():
    log = Timelog(maintenance="disabled")
    log.extend([(1, 1), (2, 2.5), (3, None)])
    assert log.to_arrow().schema.field("value").type == pa.float64()
    log.close()
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, None), (3, "c")])
    assert log.to_arrow().column("value").to_pylist() == ["a", None, "c"]
    log.close()
    log = Timelog(maintenance="disabled")
    log.extend([(1, True), (2, False)])
    assert log.to_arrow().schema.field("value").type == pa.bool_()
    log.close()
    log = Timelog(maintenance="disabled")
    log.extend([(1, {"x": 1, "y": "a"}), (2, None), (3, {"x": 2})])
    table = log.to_arrow()
    assert pa.types.is_struct(table.schema.field("value").type)
    assert table.column("value").to_pylist() == [{"x": 1, "y": "a"}, None, {"x": 2, "y": None}]
    cols = log.to_arrow(payload="columns")
    assert cols.column_names == ["ts", "x", "y"]
    assert cols.column("x").to_pylist() == [1, None, 2]
    assert cols.column("y").to_pylist() == ["a", None, None]
    log.close()


class Thing:
    def __eq__(self, other):
        return type(other) is Thing


def test_numeric_payloads_read_in_c_match_pyarrow_inference():
    cases = [
        [1.5, 2.5, -0.0, float("inf")],
        [1, -2, 2**62, -(2**63)],
        [1, 2.5, 3],  # ints and floats: double, as pyarrow infers
        [1.0, 2],
        [1, None, 3],
        [1.0, None],
    ]
    for objs in cases:
        log = Timelog(maintenance="disabled")
        log.extend(enumerate(objs))
        log.flush()
        col = log.to_arrow().column("value")
        ref = pa.array(objs)
        assert col.type == ref.type, objs
        assert col.to_pylist() == ref.to_pylist(), objs
        log.close()
    log = Timelog(maintenance="disabled")
    log.extend([(0, 1), (1, 2**70)])
    with pytest.raises(TypeError, match=r"row 1 \(ts=1\)"):
        log.to_arrow()
    log.close()
    log = Timelog(maintenance="disabled")
    log.extend([(0, 1), (1, True)])  # pyarrow takes no bool among ints either
    with pytest.raises(TypeError, match=r"row 1 \(ts=1\) \(True\)"):
        log.to_arrow()
    log.close()


def test_non_arrow_payload_names_the_row_and_the_pickle_option():
    log = Timelog(maintenance="disabled")
    log.extend([(10, 1.0), (20, 2.0), (30, Thing()), (40, 4.0)])
    before = list(log)
    with pytest.raises(TypeError, match=r"row 2 \(ts=30\).*Thing.*payload='pickle'"):
        pa.table(log)
    with pytest.raises(TypeError, match=r"row 1 \(ts=30\)"):
        log.to_arrow(20)
    log.extend([(50, "text")])
    with pytest.raises(TypeError, match=r"row 1 \(ts=50\).*'text'.*payload='pickle'"):
        log.to_arrow(40, 60)
    # payload='pickle' stores anything picklable as binary.
    table = log.to_arrow(payload="pickle")
    assert table.schema.field("value").type == pa.binary()
    assert [pickle.loads(b) for b in table.column("value").to_pylist()] == [
        obj for _, obj in before
    ] + ["text"]
    # Nothing stored changed, and no pin is left behind by the errors.
    assert list(log)[:4] == before
    gc.collect()
    assert pins(log) <= 1
    with pytest.raises(TypeError, match="payload='columns' needs dict payloads"):
        log.to_arrow(40, 50, payload="columns")
    with pytest.raises(ValueError, match="payload="):
        log.to_arrow(payload="json")
    log.append(60, lambda: None)
    with pytest.raises(TypeError, match=r"row 5 \(ts=60\) cannot be pickled"):
        log.to_arrow(payload="pickle")
    log.close()


def test_lists_and_datetimes_are_refused_in_auto_mode():
    import datetime

    log = Timelog(maintenance="disabled")
    log.extend([(1, [1, 2]), (2, [3])])
    with pytest.raises(TypeError, match=r"row 0 \(ts=1\) is a list"):
        log.to_arrow()
    log.close()
    log = Timelog(maintenance="disabled")
    log.extend([(1, 1), (2, datetime.datetime(2020, 1, 1))])
    with pytest.raises(TypeError, match=r"row 1 \(ts=2\) is a datetime"):
        log.to_arrow()
    log.close()


def test_without_pyarrow(monkeypatch):
    log = Timelog(maintenance="disabled")
    log.extend((t, float(t)) for t in range(100))
    log.flush()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install pyarrow.*payload=None"):
        log.__arrow_c_stream__()
    with pytest.raises(ImportError, match="pip install pyarrow"):
        log[0:10].__arrow_c_stream__()
    with pytest.raises(ImportError, match="pip install pyarrow"):
        log.to_arrow()
    cap = log.arrow(10, 20, payload=None).__arrow_c_stream__()
    monkeypatch.undo()
    table = pa.RecordBatchReader._import_from_c_capsule(cap).read_all()
    assert records(table) == list(range(10, 20))
    log.close()


def test_requested_schema_is_best_effort():
    log = Timelog(maintenance="disabled")
    log.extend([(1, 1.0)])
    schema = pa.schema([("ts", pa.int64())])
    table = pa.table(log.arrow())
    cap = log.__arrow_c_stream__(schema.__arrow_c_schema__())
    got = pa.RecordBatchReader._import_from_c_capsule(cap).read_all()
    assert got.equals(table)
    log.close()


def test_closed_log():
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(timelog.TimelogError):
        log.__arrow_c_stream__()
    with pytest.raises(timelog.TimelogError):
        log.to_arrow()


def test_polars():
    pl = pytest.importorskip("polars", reason="polars is not installed (requirements-dev.txt)")
    log = layered_log()
    expect = list(log[50:2600])
    for df in (
        pl.DataFrame(log[50:2600]),
        pl.from_arrow(log.to_arrow(50, 2600)),
        log.to_polars(50, 2600),
    ):
        assert df.schema["ts"] == pl.Datetime("ms", "UTC")
        got = list(zip(df["ts"].dt.epoch("ms").to_list(), df["value"].to_list()))
        assert got == expect
    df = pl.DataFrame(log.arrow(payload=None))
    assert df.columns == ["ts"] and df.height == len(log)
    log.close()


def test_duckdb():
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (requirements-dev.txt)")
    log = layered_log()
    expect = list(log[50:2600])
    # DuckDB's replacement scan finds the iterator by its variable name.
    it = log[50:2600]  # noqa: F841
    rows = duckdb.sql("select epoch_ms(ts), value from it").fetchall()
    assert rows == expect
    [(n, lo)] = duckdb.sql("select count(*), min(epoch_ms(ts)) from it").fetchall()
    assert (n, lo) == (len(expect), expect[0][0])
    rel = duckdb.from_arrow(log.arrow(50, 2600))
    assert rel.query("t", "select epoch_ms(ts), value from t").fetchall() == expect
    log.close()


def test_pandas_through_arrow_and_to_pandas_tz():
    pd = pytest.importorskip("pandas", reason="pandas is not installed (requirements-dev.txt)")
    log = Timelog(time_unit="s", maintenance="disabled")
    log.extend([(0, 1.0), (60, 2.0), (3600, None)])
    df = log.to_arrow().to_pandas()
    assert str(df["ts"].dt.tz) == "UTC"
    assert df["ts"].tolist() == [pd.Timestamp(t, unit="s", tz="UTC") for t in (0, 60, 3600)]
    naive = log.to_pandas()
    assert naive.index.tz is None  # the default is unchanged
    utc = log.to_pandas(tz="UTC")
    assert str(utc.index.tz) == "UTC"
    assert utc.index[1] == pd.Timestamp("1970-01-01 00:01:00", tz="UTC")
    paris = log.to_pandas(tz="Europe/Paris")
    assert (paris.index == utc.index).all()  # the same instants
    assert paris.index[0].hour == 1
    assert list(utc["value"]) == list(naive["value"])
    log.close()


def test_arrow_range_object():
    log = Timelog(maintenance="disabled")
    log.extend([(1, "a"), (5, "b")])
    src = log.arrow(0, 3)
    assert "ArrowRange" in repr(src)
    assert records(pa.table(src)) == [(1, "a")]
    log.append(2, "c")  # each export reads the log as it is then
    assert records(pa.table(src)) == [(1, "a"), (2, "c")]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(src)
    log.close()


def test_release_callbacks_run_without_the_gil():
    # ctypes releases the GIL around a foreign call, so the stream's get_next
    # and the batch's release callback run here as from a consumer's own
    # thread: the release must take the GIL itself to drop the pin.
    import ctypes

    class ArrowArray(ctypes.Structure):
        pass

    release_t = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArray))
    ArrowArray._fields_ = [
        ("length", ctypes.c_int64),
        ("null_count", ctypes.c_int64),
        ("offset", ctypes.c_int64),
        ("n_buffers", ctypes.c_int64),
        ("n_children", ctypes.c_int64),
        ("buffers", ctypes.POINTER(ctypes.c_void_p)),
        ("children", ctypes.POINTER(ctypes.POINTER(ArrowArray))),
        ("dictionary", ctypes.POINTER(ArrowArray)),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]

    class ArrowArrayStream(ctypes.Structure):
        _fields_ = [
            ("get_schema", ctypes.c_void_p),
            ("get_next", ctypes.c_void_p),
            ("get_last_error", ctypes.c_void_p),
            ("release", ctypes.c_void_p),
            ("private_data", ctypes.c_void_p),
        ]

    get_next_t = ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.POINTER(ArrowArrayStream), ctypes.POINTER(ArrowArray)
    )
    stream_release_t = ctypes.CFUNCTYPE(None, ctypes.POINTER(ArrowArrayStream))
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]

    log = Timelog(maintenance="disabled")
    log.extend((t, None) for t in range(1000))
    log.flush()
    gc.collect()
    base = pins(log)
    span_addr = next(log.views())._address
    gc.collect()
    cap = log.arrow(payload=None).__arrow_c_stream__()
    st = ArrowArrayStream.from_address(get_pointer(cap, b"arrow_array_stream"))
    batch = ArrowArray()
    errors = []

    def consumer():
        try:
            assert get_next_t(st.get_next)(ctypes.byref(st), ctypes.byref(batch)) == 0
            ts = batch.children[0].contents
            assert batch.length == 1000 and ts.buffers[1] == span_addr
            stream_release_t(st.release)(ctypes.byref(st))  # the stream goes first
            release_t(batch.release)(ctypes.byref(batch))  # the last holder: drops the pin
            assert batch.release is None
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    th = threading.Thread(target=consumer)
    th.start()
    th.join(timeout=60)
    assert not errors and not th.is_alive()
    gc.collect()
    assert pins(log) == base
    del cap  # released already: the capsule frees only the struct
    gc.collect()
    assert pins(log) == base
    log.close()


def test_a_table_alive_at_interpreter_exit(tmp_path):
    # The pin is left to process exit then (taking the GIL there can hang);
    # the process must exit cleanly either way.
    import subprocess

    script = tmp_path / "exit.py"
    script.write_text(
        "import pyarrow as pa, timelog, threading\n"
        "log = timelog.Timelog(maintenance='background')\n"
        "log.extend((t, float(t)) for t in range(100000)); log.flush()\n"
        "KEEP = [pa.table(log[10:90000]), log.to_arrow(payload=None).to_batches()]\n"
        "cap = log.__arrow_c_stream__()\n"
        "print(KEEP[0].num_rows)\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(tmp_path),
        env={
            **__import__("os").environ,
            "PYTHONPATH": str(__import__("pathlib").Path(timelog.__file__).parent.parent),
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "89990"

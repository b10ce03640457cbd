"""Uses every public name of timelog, for `mypy --strict` (tests/test_typing.py).

It is also run as a plain script by the same test, so every line here is
real, working code: the stubs are checked against calls that succeed.
``assert_type`` pins what the stubs promise (overloads included); a stub
that drifts from the binding fails mypy here or the run below.
"""

from __future__ import annotations

import array
import copy
import datetime
import os
import pickle
import tempfile
import warnings
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import timelog
from timelog import (
    PageSpan,
    PageSpanIter,
    PageSpanObjectsView,
    Record,
    RecordBatch,
    RecordIter,
    Timelog,
    TimelogBusyError,
    TimelogError,
    TimelogIter,
)


def construction() -> Timelog:
    log = Timelog(
        time_unit="ms",
        maintenance="disabled",
        busy_policy="raise",
        min_ts=None,
        mostly_ordered_default=True,
        memtable_max_bytes=0,
        target_page_bytes=0,
        sealed_max_runs=0,
        ooo_budget_bytes=0,
        sealed_wait_ms=0,
        drain_batch_limit=0,
        maintenance_wakeup_ms=0,
        max_delta_segments=0,
        window_size=0,
        window_origin=0,
        delete_debt_threshold=0.0,
        compaction={"target_bytes": 0, "max_inputs": 0, "max_windows": 0},
    )
    for preset in (
        Timelog.for_streaming(time_unit="us"),
        Timelog.for_bulk_ingest(memtable_max_bytes=1 << 20),
        Timelog.for_low_latency(sealed_wait_ms=0),
    ):
        assert_type(preset, Timelog)
        preset.close()
    guarded = Timelog(maintenance="disabled", min_ts=datetime.datetime(2024, 1, 1))
    floor: int | None = guarded.min_ts_floor
    assert floor is not None
    guarded.close()
    assert_type(guarded.reopen(time_unit="s"), Timelog)
    guarded.close()
    assert_type(guarded.configure(busy_policy="silent"), Timelog)
    guarded.close()
    deprecated_flat_spellings()
    return log


def deprecated_flat_spellings() -> None:
    # timelog-lib's flat keywords still type-check (and run, with a
    # DeprecationWarning): code written for it passes mypy --strict.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        flat = Timelog(
            maintenance="disabled",
            adaptive_target_records=1000,
            adaptive_alpha=0.3,
            compaction_target_bytes=32 << 20,
            compaction_max_windows=2,
        )
        flat.close()
        assert_type(flat.reopen(compaction_max_inputs=4), Timelog)
        flat.close()
        assert_type(flat.configure(adaptive_hysteresis_pct=5.0, window_size=60_000), Timelog)
        flat.close()


def writes(log: Timelog) -> None:
    log.append({"event": "boot"})
    log.append("x", ts=5)
    log.append("y", ts=None)
    log.append(6, "z")
    log.append(obj_or_ts="kw")
    log.append(obj_or_ts=8, obj_or_none="kw pair")
    log.append(9, "ts ignored", ts=10)
    log.append(np.int64(7), "numpy int")
    log.append(datetime.datetime(1970, 1, 1, 0, 0, 1), "datetime")
    log.append(np.datetime64("1970-01-01T00:00:02", "s"), "datetime64")
    log[8] = "setitem"
    log.extend([(9, "a"), (10, "b")], mostly_ordered=True, insert_on_error=False)
    log.extend([11, 12], ["c", "d"])
    log.extend([13], objects=["e"], insert_on_error=True)
    log.bulk_append(np.array([14, 15], dtype=np.int64), ["f", "g"])
    log.bulk_append(array.array("q", [16]), ("h",), mostly_ordered=None)
    log.bulk_append(memoryview(array.array("q", [17])), ["i"])
    log.bulk_append(np.array([18, 19], dtype=np.int64), range(2))
    log.bulk_append(np.array([20], dtype=np.int64), np.array(["k"], dtype=object))
    log.bulk_append(np.array(["1970-01-01T00:00:03"], dtype="datetime64[s]"), ["j"])
    log.delete(100)
    log.delete(100, 200)
    log.delete(None, -1000)
    log.cutoff(-1000)
    log.delete_range(100, 200)
    log.delete_before(-1000)
    del log[100]
    del log[100:200]
    del log[300:]


def reads(log: Timelog) -> None:
    it = log[0:10]
    assert_type(it, TimelogIter)
    assert_type(log[0:], TimelogIter)
    assert_type(log[:10], TimelogIter)
    assert_type(log[:], TimelogIter)
    assert_type(log[5], list[Any])
    assert_type(log.at(5), list[Any])
    for named in (
        log.range(0, 10),
        log.since(0),
        log.until(10),
        log.all(),
        log.point(5),
        log.equal(5),
    ):
        assert_type(named, TimelogIter)
        named.close()
    remaining: int = len(it)
    first: tuple[int, Any] = next(it)
    batch: list[tuple[int, Any]] = it.next_batch(2)
    cols_ts, cols_objs = it.next_arrays(2)
    assert_type(cols_ts, npt.NDArray[np.int64])
    assert_type(cols_objs, list[Any])
    with it.view() as spans:
        assert_type(spans, PageSpanIter)
    ts_rest, objs_rest = it.to_numpy()
    assert_type(ts_rest, npt.NDArray[np.int64])
    assert_type(objs_rest, list[Any])
    closed: bool = it.closed
    it.close()
    with log.all() as it2:
        records: list[Record] = list(it2)
    assert remaining >= 0 and first and isinstance(batch, list) and closed
    assert records
    stream: RecordIter = iter(records)
    chunk: RecordBatch = list(stream)
    assert chunk == records
    lo: int | None = log.min_ts()
    hi: int | None = log.max_ts()
    nxt: int | None = log.next_ts(5)
    prv: int | None = log.prev_ts(10)
    assert lo is not None and hi is not None and nxt is not None and prv is not None
    assert 5 in log
    n: int = len(log)
    assert log.count() == n and log.count(0, 10) <= n
    ts, objs = log.arrays(0, 100)
    assert_type(ts, npt.NDArray[np.int64])
    assert_type(objs, list[Any])
    assert_type(log.timestamps(), npt.NDArray[np.int64])
    counts, edges = log.histogram(0, 100, bins=10)
    assert_type(counts, npt.NDArray[np.int64])
    assert_type(edges, npt.NDArray[np.int64])
    assert_type(log.counts(0, 100, 10), npt.NDArray[np.int64])
    assert_type(log.counts(0, 100, "5ms"), npt.NDArray[np.int64])
    assert_type(log.counts(None, None, datetime.timedelta(milliseconds=5)), npt.NDArray[np.int64])
    assert_type(log.counts(0, 100, np.timedelta64(5, "ms")), npt.NDArray[np.int64])
    assert_type(log.histogram(0, 100, step="10ms")[0], npt.NDArray[np.int64])
    with log.windows(0, 100, "50ms") as wins:
        for wstart, wit in wins:
            assert_type(wstart, int)
            assert_type(wit, TimelogIter)
            wit.close()
    with Timelog(maintenance="disabled") as nums:
        nums.extend([(1, 1.5), (2, 3), (2, True)])
        ets, vals = nums.to_numpy(0, 100)
        assert_type(ets, npt.NDArray[np.int64])
        assert_type(vals, npt.NDArray[np.float64])
        ets2, ivals = nums.to_numpy(None, None, dtype=np.int64)
        assert_type(ivals, npt.NDArray[Any])
        assert ets2.size == ivals.size == len(nums) == 3
    d = log.to_dict(0, 100)
    assert_type(d, dict[int, Any])
    assert len(d) <= len(log)


def views(log: Timelog) -> None:
    log.flush()
    with log.views(0, 100) as spans:
        for span in spans:
            assert_type(span, PageSpan)
            arr: npt.NDArray[np.int64] = span.timestamps
            own: npt.NDArray[np.int64] = span.copy_timestamps()
            with memoryview(span) as mv:
                assert mv.format == "q" and mv.tolist() == own.tolist()
            objs = span.objects()
            assert_type(objs, PageSpanObjectsView)
            assert len(objs) == len(span) == len(arr) == len(own)
            assert objs[0] is objs.copy()[0] and objs[0:1] == list(objs)[0:1]
            assert not objs.closed
            t1: int = span.start_ts
            t2: int | None = span.end_ts
            last: int = span.last_ts
            assert span.t1 == t1 and span.t2 == t2 and last >= t1
            level: int = span.level
            assert level in (0, 1, 2) and not span.closed
            span.close()
    assert_type(log.page_spans(kind="segment"), PageSpanIter)


def maintenance_and_introspection(log: Timelog) -> None:
    log.flush()
    log.compact()
    did: bool = log.maint_step()
    assert did in (True, False)
    log.start_maintenance()
    running: bool = log.maintenance_running
    log.stop_maintenance()
    assert running
    stats = log.stats()
    records: int = stats["records"]
    l1: int = stats["storage"]["segments_l1"]
    engine_bytes: int = stats["memory"]["engine_bytes"]
    unit: str = stats["config"]["time_unit"]
    assert records == len(log) and l1 >= 0 and engine_bytes > 0 and unit == "ms"
    counters: list[int] = [
        log.busy_events,
        log.extend_skipped,
        log.retired_queue_len,
        log.alloc_failures,
    ]
    assert all(c >= 0 for c in counters)
    log.validate()
    assert_type(log.time_unit, Literal["s", "ms", "us", "ns"])
    assert log.maintenance_mode == "disabled" and log.busy_policy == "raise"
    text: str = repr(log) + log._repr_html_()
    assert "records" in text


def pandas_and_pickling(log: Timelog) -> None:
    try:
        df = log.to_pandas(0, 100)
    except ImportError:
        pass
    else:
        assert df.index.name == "ts"
        assert str(log.to_pandas(tz="UTC").index.tz) == "UTC"
    # Timestamps alone export without pyarrow; payloads need it.
    capsule: object = log.arrow(0, 100, payload=None).__arrow_c_stream__()
    assert type(capsule).__name__ == "PyCapsule"
    try:
        table = log.to_arrow(0, 100, payload="pickle")
        frame = log.to_polars(payload=None)
        log[0:0].__arrow_c_stream__()
    except ImportError:
        pass
    else:
        assert table.num_rows == len(frame) == len(log)
        back = Timelog.from_arrow(table, "ts", "value", unpickle=True, time_unit="ms")
        assert list(back) == list(log)
        back.bulk_append(table.column("ts"), table.column("value"))
        back.close()
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "log.parquet")
            log.save(path, 0, None, format="parquet", payload="auto")
            loaded = Timelog.load(path, format=None, unpickle=True, maintenance="disabled")
            assert list(loaded) == list(log)
            loaded.close()
    clone = pickle.loads(pickle.dumps(log))
    assert isinstance(clone, Timelog) and list(clone) == list(log)
    deep = copy.deepcopy(log)
    assert len(deep) == len(log)
    clone.close()
    deep.close()


def errors() -> None:
    try:
        with Timelog(maintenance="disabled", sealed_max_runs=1, memtable_max_bytes=4096) as log:
            for i in range(10_000):
                log.append(i, i)
    except TimelogBusyError as busy:
        err: TimelogError = busy  # the write was accepted: do not retry it
        assert isinstance(err, TimelogError)


def main() -> None:
    assert timelog.__version__
    log = construction()
    with log:
        writes(log)
        reads(log)
        views(log)
        maintenance_and_introspection(log)
        pandas_and_pickling(log)
    assert log.closed
    errors()


if __name__ == "__main__":
    main()
    print("ok")

"""Pickling, copy and deepcopy of a log: content and configuration round-trip.

Pin holders (iterators, spans, span object views, snapshots) refuse to pickle
with a TypeError that says why.
"""

import copy
import multiprocessing
import pickle

import numpy as np
import pytest

from timelog import Timelog

SETTINGS = dict(
    time_unit="us",
    maintenance="disabled",
    busy_policy="silent",
    min_ts=-50,
    mostly_ordered_default=False,
    memtable_max_bytes=8192,
    target_page_bytes=2048,
    sealed_max_runs=7,
    ooo_budget_bytes=4096,
    sealed_wait_ms=3,
    drain_batch_limit=11,
    maintenance_wakeup_ms=13,
    max_delta_segments=5,
    window_size=1000,
    window_origin=-7,
    delete_debt_threshold=0.25,
    compaction={"target_bytes": 1 << 20, "max_inputs": 3, "max_windows": 2},
)


@pytest.fixture
def full():
    log = Timelog(**SETTINGS)
    log.extend((t % 97, {"i": t}) for t in range(2000))  # out of order, duplicates
    log.flush()
    log.extend((t, [t]) for t in range(100, 110))  # some still in the memtable
    del log[10:20]
    log[15] = "written after the delete"
    yield log
    log.close()


def same_content(a, b):
    return [(t, repr(o)) for t, o in a] == [(t, repr(o)) for t, o in b]


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(full, protocol):
    clone = pickle.loads(pickle.dumps(full, protocol=protocol))
    assert type(clone) is Timelog and clone is not full
    assert same_content(clone, full) and len(clone) == len(full)
    assert clone.stats()["config"] == full.stats()["config"]
    assert clone.min_ts_floor == -50
    with pytest.raises(ValueError, match="min_ts"):
        clone[-51] = "below the guard"
    clone._validate()
    clone.close()


def test_order_of_equal_timestamps_is_kept(full):
    clone = pickle.loads(pickle.dumps(full))
    assert [o for _, o in clone] == [o for _, o in full]
    clone.close()


def test_copy_is_independent_and_shares_payloads(full):
    clone = copy.copy(full)
    assert clone[15][0] is full[15][0]  # shallow: same objects
    clone[1000] = "only in the copy"
    del clone[0:5]
    assert 1000 not in full and len(full[0:5]) > 0
    clone.close()


def test_deepcopy_copies_payloads(full):
    clone = copy.deepcopy(full)
    a, b = full[50], clone[50]
    assert a == b and all(x is not y for x, y in zip(a, b))
    b[0]["i"] = "changed"
    assert full[50][0]["i"] != "changed"
    clone.close()


def test_deepcopy_keeps_shared_payloads_shared():
    shared = {"k": 1}
    log = Timelog(maintenance="disabled")
    log.extend([(1, shared), (2, shared)])
    clone = copy.deepcopy(log)
    x, y = clone[1][0], clone[2][0]
    assert x is y and x is not shared
    clone.close()
    log.close()


def test_closed_log_pickles_as_closed_with_settings():
    log = Timelog(**SETTINGS)
    log[1] = "x"
    log.close()
    clone = pickle.loads(pickle.dumps(log))
    assert clone.closed
    clone.reopen()
    assert clone.time_unit == "us" and len(clone) == 0
    assert clone.stats()["config"]["compaction"] == SETTINGS["compaction"]
    clone.close()


class Tagged(Timelog):
    """A subclass with its own constructor and instance attributes."""

    def __init__(self, tag, **kw):
        super().__init__(**kw)
        self.tag = tag


def test_subclass_and_its_attributes_round_trip():
    log = Tagged("sensor-7", maintenance="disabled", time_unit="s")
    log[1] = "x"
    clone = pickle.loads(pickle.dumps(log))
    assert type(clone) is Tagged and clone.tag == "sensor-7" and list(clone) == [(1, "x")]
    assert clone.time_unit == "s"
    clone.close()
    log.close()


def test_large_log_with_backpressure_policy_raise():
    # Loading must not fail on backpressure: the copy gets every record.
    log = Timelog(
        maintenance="disabled", busy_policy="raise", memtable_max_bytes=4096, sealed_max_runs=1
    )
    ts = np.arange(50_000, dtype=np.int64)
    try:
        log.bulk_append(ts, list(range(50_000)))
    except Exception:
        pass
    log.flush()
    clone = pickle.loads(pickle.dumps(log))
    assert len(clone) == 50_000 and clone.busy_events == 0
    assert clone.timestamps().tolist() == ts.tolist()
    clone.close()
    log.close()


def test_background_log_round_trips():
    log = Timelog.for_streaming()
    log.extend((t, t) for t in range(1000))
    clone = pickle.loads(pickle.dumps(log))
    assert clone.maintenance_running and len(clone) == 1000
    clone.close()
    log.close()


def _sum_in_child(log):
    with log:
        return sum(o for _, o in log)


def test_multiprocessing_sends_a_log_to_a_child():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(100))
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_sum_in_child, (log,)) == sum(range(100))
    log.close()


@pytest.mark.parametrize(
    "make",
    [
        lambda log: log[0:10],
        lambda log: log.all(),
        lambda log: log.views(),
        lambda log: next(log.views()),
        lambda log: next(log.views()).objects(),
    ],
    ids=["slice", "all", "views", "span", "span-objects"],
)
@pytest.mark.parametrize("how", ["pickle", "copy", "deepcopy"])
def test_pin_holders_refuse_with_a_reason(make, how):
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.flush()
    obj = make(log)
    op = {"pickle": pickle.dumps, "copy": copy.copy, "deepcopy": copy.deepcopy}[how]
    with pytest.raises(TypeError, match="cannot be pickled: .*(snapshot|pin)"):
        op(obj)
    log.close()


def test_snapshot_pin_refuses_with_a_reason():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.flush()
    arr = next(log.views()).timestamps
    with pytest.raises(TypeError, match="pins cannot be pickled"):
        pickle.dumps(arr.base)
    # The array itself pickles as a copy of its values.
    assert pickle.loads(pickle.dumps(arr)).tolist() == list(range(10))
    log.close()


class Holder:
    """A payload that points back at the log holding it."""

    def __init__(self, log):
        self.log = log


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_log_storing_itself_copies_with_the_cycle_on_the_copy(how):
    log = Timelog(maintenance="disabled")
    log.append(1, log)  # directly
    log.append(2, Holder(log))  # through a payload
    log.append(3, [log, "x"])
    if how == "pickle":
        clone = pickle.loads(pickle.dumps(log, protocol=pickle.HIGHEST_PROTOCOL))
    else:
        clone = copy.deepcopy(log)
    assert clone is not log and len(clone) == 3
    assert clone[1][0] is clone
    assert clone[2][0].log is clone
    assert clone[3][0][0] is clone and clone[3][0][1] == "x"
    assert log[1][0] is log  # the original is untouched
    clone.close()
    log.close()


def test_shallow_copy_of_a_self_storing_log_shares_its_payloads():
    log = Timelog(maintenance="disabled")
    log.append(1, log)
    clone = copy.copy(log)
    assert clone[1][0] is log  # shallow: the payload itself
    clone.close()
    log.close()


def test_self_storing_subclass_keeps_attributes_and_cycle():
    log = Tagged("t", maintenance="disabled")
    log.me = log
    log.append(5, log)
    clone = pickle.loads(pickle.dumps(log))
    assert type(clone) is Tagged and clone.tag == "t" and clone.me is clone
    assert clone[5][0] is clone
    clone.close()
    log.close()


def test_pickles_of_the_older_format_still_load():
    # Before the two-step format, the records travelled in the constructor
    # call: _rebuild_timelog(cls, settings, ts, objs) with a plain dict state.
    from timelog import _core

    settings = dict(SETTINGS, maintenance="disabled")
    log = _core._rebuild_timelog(Timelog, settings, np.array([1, 2], dtype=np.int64), ["a", "b"])
    assert list(log) == [(1, "a"), (2, "b")]
    log.close()
    closed = _core._rebuild_timelog(Timelog, settings, None, None)
    assert closed.closed

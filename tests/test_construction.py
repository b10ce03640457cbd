"""Construction: every knob accepted and validated, presets, reopen/configure."""

import math

import pytest

from timelog import Timelog, TimelogError

SIZE_KNOBS = [
    "memtable_max_bytes",
    "target_page_bytes",
    "sealed_max_runs",
    "ooo_budget_bytes",
    "drain_batch_limit",
    "max_delta_segments",
]
U32_KNOBS = ["sealed_wait_ms", "maintenance_wakeup_ms"]

# A valid, non-default value for every knob (what test_every_knob_accepted uses).
GOOD = {
    "time_unit": "us",
    "maintenance": "disabled",
    "busy_policy": "silent",
    "min_ts": -1000,
    "mostly_ordered_default": False,
    "memtable_max_bytes": 1 << 20,
    "target_page_bytes": 8192,
    "sealed_max_runs": 3,
    "ooo_budget_bytes": 1 << 16,
    "sealed_wait_ms": 5,
    "drain_batch_limit": 100,
    "maintenance_wakeup_ms": 20,
    "max_delta_segments": 4,
    "window_size": 10_000,
    "window_origin": -7,
    "delete_debt_threshold": 0.25,
    "compaction": {"target_bytes": 1 << 20, "max_inputs": 4, "max_windows": 2},
}


def test_defaults():
    with Timelog() as log:
        assert log.time_unit == "ms"
        assert log.maintenance_mode == "background"
        assert log.busy_policy == "raise"
        assert not log.closed
        cfg = log.stats()["config"]
        assert cfg["min_ts"] is None
        assert cfg["mostly_ordered_default"] is True
        assert cfg["compaction"] is None
        for name in SIZE_KNOBS + U32_KNOBS + ["window_size", "window_origin"]:
            assert cfg[name] == 0, name
        assert cfg["delete_debt_threshold"] == 0.0


def test_every_knob_accepted_and_echoed():
    with Timelog(**GOOD) as log:
        cfg = log.stats()["config"]
        for name, value in GOOD.items():
            assert cfg[name] == value, name
        assert log.time_unit == "us"
        assert log.maintenance_mode == "disabled"
        assert log.busy_policy == "silent"
        log[5] = "x"
        assert log[5] == ["x"]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_time_units(unit):
    with Timelog(time_unit=unit, maintenance="disabled") as log:
        assert log.time_unit == unit


@pytest.mark.parametrize("name", SIZE_KNOBS + U32_KNOBS + ["window_size"])
def test_integer_knob_rejects_bool(name):
    with pytest.raises(TypeError, match=name):
        Timelog(**{name: True})


@pytest.mark.parametrize("name", SIZE_KNOBS + U32_KNOBS + ["window_size"])
def test_integer_knob_rejects_negative(name):
    with pytest.raises(ValueError, match=name):
        Timelog(**{name: -1})


@pytest.mark.parametrize("name", SIZE_KNOBS + U32_KNOBS + ["window_size", "window_origin"])
@pytest.mark.parametrize("bad", ["10", 1.5, None, [1]])
def test_integer_knob_rejects_wrong_type(name, bad):
    with pytest.raises(TypeError, match=name):
        Timelog(**{name: bad})


@pytest.mark.parametrize("name", U32_KNOBS)
def test_millisecond_knobs_fit_uint32(name):
    with pytest.raises(ValueError, match=name):
        Timelog(**{name: 2**32})


def test_window_origin_accepts_negative_and_rejects_out_of_range():
    with Timelog(window_origin=-(2**63), maintenance="disabled") as log:
        assert log.stats()["config"]["window_origin"] == -(2**63)
    with pytest.raises(ValueError, match="window_origin"):
        Timelog(window_origin=2**63)


def test_integer_knobs_accept_numpy_integers():
    np = pytest.importorskip("numpy")
    with Timelog(memtable_max_bytes=np.int64(1 << 20), maintenance="disabled") as log:
        assert log.stats()["config"]["memtable_max_bytes"] == 1 << 20
        assert type(log.stats()["config"]["memtable_max_bytes"]) is int


@pytest.mark.parametrize(
    "name,bad",
    [
        ("time_unit", "minutes"),
        ("time_unit", "MS"),
        ("maintenance", "sometimes"),
        ("busy_policy", "retry"),
    ],
)
def test_choice_knob_rejects_unknown_value(name, bad):
    with pytest.raises(ValueError, match=name):
        Timelog(**{name: bad})


@pytest.mark.parametrize("name", ["time_unit", "maintenance", "busy_policy"])
def test_choice_knob_rejects_non_str(name):
    with pytest.raises(TypeError, match=name):
        Timelog(**{name: 1})


@pytest.mark.parametrize("bad", [1.5, -0.1, math.nan, math.inf])
def test_delete_debt_threshold_range(bad):
    with pytest.raises(ValueError, match="delete_debt_threshold"):
        Timelog(delete_debt_threshold=bad)


@pytest.mark.parametrize("bad", [True, "0.5", None])
def test_delete_debt_threshold_type(bad):
    with pytest.raises(TypeError, match="delete_debt_threshold"):
        Timelog(delete_debt_threshold=bad)


@pytest.mark.parametrize("ok", [0, 1, 0.0, 1.0, 0.5])
def test_delete_debt_threshold_bounds_inclusive(ok):
    with Timelog(delete_debt_threshold=ok, maintenance="disabled") as log:
        assert log.stats()["config"]["delete_debt_threshold"] == float(ok)


def test_mostly_ordered_default_must_be_bool():
    with pytest.raises(TypeError, match="mostly_ordered_default"):
        Timelog(mostly_ordered_default=1)


def test_compaction_dict():
    with Timelog(compaction={"max_inputs": 2}, maintenance="disabled") as log:
        assert log.stats()["config"]["compaction"] == {
            "target_bytes": 0,
            "max_inputs": 2,
            "max_windows": 0,
        }
    with pytest.raises(TypeError, match="compaction"):
        Timelog(compaction=[("max_inputs", 2)])
    with pytest.raises(ValueError, match="bogus"):
        Timelog(compaction={"bogus": 1})
    with pytest.raises(ValueError, match="max_windows"):
        Timelog(compaction={"max_windows": -1})
    with pytest.raises(TypeError, match="target_bytes"):
        Timelog(compaction={"target_bytes": True})


def test_min_ts_validated():
    with pytest.raises(TypeError, match="min_ts"):
        Timelog(min_ts=1.5)
    with pytest.raises(TypeError, match="min_ts"):
        Timelog(min_ts=True)
    with pytest.raises(ValueError, match="min_ts"):
        Timelog(min_ts=2**63)


def test_unknown_keyword_and_positional_arguments():
    with pytest.raises(TypeError, match="memtable_bytes"):
        Timelog(memtable_bytes=1)
    with pytest.raises(TypeError):
        Timelog("ms")


def test_min_ts_guard():
    with Timelog(min_ts=100, maintenance="disabled") as log:
        log[100] = "edge"
        with pytest.raises(ValueError, match="min_ts"):
            log[99] = "old"
        with pytest.raises(ValueError, match="min_ts"):
            log.append(-5, "old")
        with pytest.raises(ValueError, match="min_ts"):
            log.append("old", ts=0)
        assert list(log) == [(100, "edge")]
        log.append("now")  # the wall clock is far above 100
        assert len(log) == 2


def test_presets_and_overrides():
    with Timelog.for_streaming() as log:
        assert (log.maintenance_mode, log.busy_policy) == ("background", "flush")
    with Timelog.for_bulk_ingest() as log:
        assert (log.maintenance_mode, log.busy_policy) == ("disabled", "flush")
        assert log.stats()["config"]["memtable_max_bytes"] == 16 * 1024 * 1024
    with Timelog.for_low_latency() as log:
        cfg = log.stats()["config"]
        assert (log.maintenance_mode, log.busy_policy) == ("background", "raise")
        assert cfg["memtable_max_bytes"] == 256 * 1024
        assert cfg["sealed_wait_ms"] == 0
    with Timelog.for_streaming(time_unit="ns", busy_policy="silent") as log:
        assert (log.time_unit, log.busy_policy) == ("ns", "silent")
    with Timelog.for_bulk_ingest(memtable_max_bytes=1 << 20) as log:
        assert log.stats()["config"]["memtable_max_bytes"] == 1 << 20
    with pytest.raises(ValueError, match="busy_policy"):
        Timelog.for_low_latency(busy_policy="never")


def test_presets_build_subclasses():
    class MyLog(Timelog):
        pass

    with MyLog.for_streaming() as log:
        assert type(log) is MyLog


def test_subclass_with_its_own_init_and_attributes():
    class Tagged(Timelog):
        def __init__(self, tag, **kw):
            super().__init__(maintenance="disabled", **kw)
            self.tag = tag

        def latest(self):
            return self.at(self.max_ts())

    with Tagged("sensor-1") as log:
        log[1] = "a"
        log[2] = "b"
        assert log.tag == "sensor-1"
        assert log.latest() == ["b"]


def test_reopen_keeps_previous_settings():
    log = Timelog(time_unit="us", maintenance="disabled", busy_policy="silent")
    log[1] = "x"
    log.close()
    assert log.closed
    assert log.reopen(busy_policy="flush") is log
    try:
        assert not log.closed
        assert (log.time_unit, log.maintenance_mode, log.busy_policy) == ("us", "disabled", "flush")
        assert len(log) == 0  # a fresh engine: close() discarded everything
        log[2] = "y"
        assert list(log) == [(2, "y")]
    finally:
        log.close()


def test_configure_is_reopen():
    log = Timelog(maintenance="disabled")
    log.close()
    log.configure(time_unit="s")
    try:
        assert log.time_unit == "s"
        assert log.maintenance_mode == "disabled"
    finally:
        log.close()


def test_reopen_on_open_log_raises():
    with Timelog(maintenance="disabled") as log:
        with pytest.raises(TimelogError):
            log.reopen()
        with pytest.raises(TimelogError):
            log.configure(time_unit="s")


def test_reopen_validates():
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(ValueError, match="time_unit"):
        log.reopen(time_unit="hours")
    with pytest.raises(TypeError, match="nonsense"):
        log.reopen(nonsense=1)
    assert log.closed
    log.reopen()
    log.close()


def test_reopen_applies_min_ts():
    log = Timelog(maintenance="disabled")
    log.close()
    log.reopen(min_ts=50)
    try:
        with pytest.raises(ValueError):
            log[49] = "x"
        log[50] = "y"
        assert list(log) == [(50, "y")]
    finally:
        log.close()


def test_context_manager_closes():
    with Timelog(maintenance="disabled") as log:
        log[1] = 1
    assert log.closed
    log.close()  # idempotent


def test_repr():
    log = Timelog(maintenance="disabled")
    log[1] = 1
    assert "1 record," in repr(log)
    log.close()
    assert "closed" in repr(log)


def test_pickle_round_trips_settings():
    # The full pickling contract is in tests/test_pickle.py.
    import pickle

    with Timelog(maintenance="disabled", time_unit="us", min_ts=5) as log:
        log[7] = "x"
        clone = pickle.loads(pickle.dumps(log))
    assert clone.time_unit == "us" and clone.min_ts_floor == 5 and list(clone) == [(7, "x")]
    clone.close()


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_reopen_converts_min_ts_to_the_new_unit(unit):
    import datetime

    import numpy as np

    guard = datetime.datetime(2024, 1, 1)
    log = Timelog(time_unit="ms", min_ts=guard, maintenance="disabled")
    log.close()
    log.reopen(time_unit=unit)
    try:
        assert log.time_unit == unit
        assert np.datetime64(log.min_ts_floor, unit) == np.datetime64("2024-01-01T00:00:00")
        with pytest.raises(ValueError, match="min_ts"):
            log.append(datetime.datetime(2023, 12, 31, 23, 59, 59), "too old")
        log.append(guard, "ok")
        assert len(log) == 1
    finally:
        log.close()
    log.reopen(time_unit="ms")  # and back
    assert log.min_ts_floor == int(np.datetime64("2024-01-01", "ms").astype(np.int64))
    log.close()


def test_reopen_refuses_a_guard_with_no_exact_value_and_changes_nothing():
    log = Timelog(time_unit="ms", min_ts=1500, maintenance="disabled")
    log.close()
    with pytest.raises(ValueError, match=r"min_ts=1500.*not a whole number.*min_ts=2"):
        log.reopen(time_unit="s")
    assert log.closed and log.time_unit == "ms" and log.min_ts_floor == 1500
    log.reopen(time_unit="s", min_ts=2)  # explicit: accepted
    assert log.min_ts_floor == 2
    log.close()
    big = Timelog(time_unit="s", min_ts=2**62, maintenance="disabled")
    big.close()
    with pytest.raises(ValueError, match="outside the int64 range"):
        big.reopen(time_unit="ns")
    assert big.closed and big.time_unit == "s" and big.min_ts_floor == 2**62
    big.reopen(time_unit="ns", min_ts=None)
    assert big.min_ts_floor is None
    big.close()


def test_configure_converts_min_ts_too():
    log = Timelog(time_unit="s", min_ts=10, maintenance="disabled")
    log.close()
    log.configure(time_unit="ms")
    assert log.min_ts_floor == 10_000
    log.close()

"""Adaptive L1 windows (adaptive={...}), the compaction={...} dict and the
deprecated flat spellings of both, through the public API only.

The engine's width rules are checked table-driven in tests/c/test_adaptive.c;
here: the config contract (types, ranges, errors naming the knob, echo,
pickling, reopen), DeprecationWarnings pointing at the caller, and that a
log's window width follows the density of what it flushes, within its
clamps and hysteresis, with every invariant (L1 windows never overlap)
holding after each compaction.
"""

import math
import pickle
import warnings

import pytest
from model import Model, same_records

from timelog import Timelog

ADAPTIVE_KEYS = {
    "target_records",
    "min_window",
    "max_window",
    "hysteresis_pct",
    "window_quantum",
    "alpha",
    "warmup_flushes",
    "stale_flushes",
    "failure_backoff_threshold",
    "failure_backoff_pct",
}


def manual(**kw):
    return Timelog(maintenance="disabled", **kw)


def feed(log, start, step, n):
    """n records start, start + step, ...; flush + compact; returns the next start."""
    log.extend([(start + i * step, i) for i in range(n)])
    log.flush()
    log.compact()
    log._validate()
    return start + n * step


# ---------------------------------------------------------------- config


def test_adaptive_off_by_default():
    with manual() as log:
        st = log.stats()
        assert st["config"]["adaptive"] is None
        assert st["adaptive"]["enabled"] is False
        assert st["adaptive"]["window_size"] == 3_600_000  # 1 h in ms
        assert st["adaptive"]["density"] is None


def test_partial_dict_is_completed_and_echoed():
    with manual(adaptive={"target_records": 500, "alpha": 0.5}) as log:
        cfg = log.stats()["config"]["adaptive"]
        assert set(cfg) == ADAPTIVE_KEYS
        assert cfg["target_records"] == 500 and cfg["alpha"] == 0.5
        assert log.stats()["adaptive"]["enabled"] is True


@pytest.mark.parametrize(
    "value, exc, words",
    [
        ({1: 2}, TypeError, "keys must be str"),
        ({"nope": 1}, ValueError, "unknown key 'nope'"),
        ([("alpha", 0.5)], TypeError, "must be a dict"),
        ({"alpha": math.nan}, ValueError, "alpha"),
        ({"alpha": math.inf}, ValueError, "finite"),
        ({"hysteresis_pct": -math.inf}, ValueError, "hysteresis_pct"),
        ({"alpha": 0}, ValueError, "alpha"),
        ({"alpha": 1.5}, ValueError, "alpha"),
        ({"alpha": "0.5"}, TypeError, "alpha"),
        ({"alpha": True}, TypeError, "alpha"),
        ({"hysteresis_pct": 101}, ValueError, "hysteresis_pct"),
        ({"failure_backoff_pct": 100}, ValueError, "failure_backoff_pct"),
        ({"target_records": -1}, ValueError, "target_records"),
        ({"target_records": 1.5}, TypeError, "target_records"),
        ({"target_records": 2**64}, ValueError, "target_records"),
        ({"min_window": 10, "max_window": 5}, ValueError, "min_window"),
        ({"window_quantum": 2**63}, ValueError, "window_quantum"),
        ({"warmup_flushes": 2**32}, ValueError, "warmup_flushes"),
        ({"stale_flushes": None}, TypeError, "stale_flushes"),
    ],
)
def test_adaptive_errors_name_the_knob(value, exc, words):
    with pytest.raises(exc, match=words):
        manual(adaptive=value)


@pytest.mark.parametrize(
    "value, exc",
    [
        ({1: 2}, TypeError),
        ({None: 2}, TypeError),
        ({"bogus": 1}, ValueError),
        ({"max_inputs": math.nan}, TypeError),
        ({"target_bytes": True}, TypeError),
    ],
)
def test_compaction_dict_errors(value, exc):
    with pytest.raises(exc, match="compaction"):
        manual(compaction=value)


def test_errors_keep_a_closed_log_and_its_settings():
    log = manual(adaptive={"target_records": 7})
    log.close()
    with pytest.raises(TypeError):
        log.reopen(adaptive={3: 1})
    assert log.closed
    log.reopen()
    assert log.stats()["config"]["adaptive"]["target_records"] == 7
    log.close()


# ---------------------------------------------------------------- deprecated spellings


@pytest.mark.parametrize(
    "flat, group, key, value",
    [
        ("adaptive_target_records", "adaptive", "target_records", 123),
        ("adaptive_alpha", "adaptive", "alpha", 0.25),
        ("adaptive_failure_backoff_pct", "adaptive", "failure_backoff_pct", 10.0),
        ("compaction_target_bytes", "compaction", "target_bytes", 1 << 20),
        ("compaction_max_inputs", "compaction", "max_inputs", 3),
        ("compaction_max_windows", "compaction", "max_windows", 2),
    ],
)
def test_flat_spellings_warn_and_apply(flat, group, key, value):
    with pytest.warns(DeprecationWarning, match=flat) as rec:
        log = manual(**{flat: value})
    assert rec[0].filename == __file__  # points at the caller's line
    with log:
        assert log.stats()["config"][group][key] == value


def test_flat_and_dict_merge_when_they_name_different_knobs():
    with pytest.warns(DeprecationWarning):
        log = manual(adaptive={"target_records": 10}, adaptive_alpha=0.5)
    with log:
        cfg = log.stats()["config"]["adaptive"]
        assert (cfg["target_records"], cfg["alpha"]) == (10, 0.5)


@pytest.mark.parametrize(
    "kw",
    [
        dict(adaptive={"alpha": 0.5}, adaptive_alpha=0.25),
        dict(compaction={"max_inputs": 2}, compaction_max_inputs=2),
    ],
)
def test_one_knob_given_both_ways_is_an_error(kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(TypeError, match="given twice"):
            manual(**kw)


def test_flat_value_is_validated():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="alpha"):
            manual(adaptive_alpha=math.nan)
        with pytest.raises(TypeError, match="unexpected keyword argument 'adaptive_nope'"):
            manual(adaptive_nope=1)


def test_reopen_flat_override_keeps_the_other_keys():
    log = manual(adaptive={"target_records": 10, "alpha": 0.5})
    log.close()
    with pytest.warns(DeprecationWarning):
        log.reopen(adaptive_min_window=4)
    cfg = log.stats()["config"]["adaptive"]
    assert (cfg["target_records"], cfg["alpha"], cfg["min_window"]) == (10, 0.5, 4)
    log.close()


def test_settings_round_trip_through_pickle():
    ada = {"target_records": 99, "window_quantum": 5, "hysteresis_pct": 0.0}
    with manual(adaptive=ada, compaction={"max_inputs": 3}) as log:
        log[1] = "a"
        clone = pickle.loads(pickle.dumps(log))
        with clone:
            assert clone.stats()["config"] == log.stats()["config"]
            assert list(clone) == [(1, "a")]
        assert "Timelog" in repr(log)


# ---------------------------------------------------------------- behaviour


def test_width_follows_density_and_segments_hold_about_the_target():
    ada = {"target_records": 1000, "alpha": 1.0, "warmup_flushes": 1, "hysteresis_pct": 10}
    with manual(adaptive=ada, window_size=10**9) as log:
        t = feed(log, 0, 2, 3000)  # 0.5 records per tick
        st = log.stats()["adaptive"]
        assert st["flushes_seen"] == 1
        assert st["density"] == pytest.approx(3000 / 5999)
        assert st["window_size"] == pytest.approx(2000, rel=0.001)
        t = feed(log, t, 200, 3000)  # 100x sparser
        assert log.stats()["adaptive"]["window_size"] == pytest.approx(200_000, rel=0.001)
        assert log.stats()["adaptive"]["resizes"] == 2
        feed(log, t, 200, 3000)
        st = log.stats()
        # The width is adopted at the flush, so every batch is compacted into
        # windows of ~1000 records: 9 full ones plus the slivers where a batch
        # starts or ends inside a grid cell (never one segment of 9000, which
        # the fixed 10**9 window would give).
        assert st["storage"]["records_l1"] == 9000
        assert 9 <= st["storage"]["segments_l1"] <= 12


def test_clamps_and_quantum():
    ada = {
        "target_records": 100,
        "alpha": 1.0,
        "warmup_flushes": 1,
        "min_window": 50,
        "max_window": 1000,
        "window_quantum": 30,
    }
    with manual(adaptive=ada) as log:
        t = feed(log, 0, 1, 500)  # wants 100 ticks: snapped to 90
        assert log.stats()["adaptive"]["window_size"] == 90
        t = feed(log, t, 1000, 500)  # wants 100000: clamped to 1000
        assert log.stats()["adaptive"]["window_size"] == 1000
        log.extend([(t + i, i) for i in range(0, 5000, 1)])  # wants 100: back to 90
        log.flush()
        assert log.stats()["adaptive"]["window_size"] == 90


def test_hysteresis_keeps_the_width_on_small_changes():
    ada = {"target_records": 100, "alpha": 1.0, "warmup_flushes": 1, "hysteresis_pct": 20}
    with manual(adaptive=ada) as log:
        t = feed(log, 0, 10, 200)  # 0.1/tick: 1000
        w = log.stats()["adaptive"]["window_size"]
        for step in (11, 9, 11, 9):  # +-10%: inside the band
            t = feed(log, t, step, 200)
            assert log.stats()["adaptive"]["window_size"] == w
        feed(log, t, 15, 200)  # +50%: adopted
        assert log.stats()["adaptive"]["window_size"] != w
        assert log.stats()["adaptive"]["resizes"] == 2


def test_warmup_delays_the_first_resize():
    ada = {"target_records": 100, "alpha": 1.0, "warmup_flushes": 3}
    with manual(adaptive=ada, window_size=77) as log:
        t = 0
        for _ in range(2):
            t = feed(log, t, 1, 300)
            assert log.stats()["adaptive"]["window_size"] == 77
        feed(log, t, 1, 300)
        assert log.stats()["adaptive"]["window_size"] == 100


def test_old_records_and_rewrites_keep_windows_disjoint():
    ada = {"target_records": 50, "alpha": 0.5, "warmup_flushes": 1, "window_quantum": 7}
    with manual(adaptive=ada) as log:
        t = 0
        for step in (1, 50, 3, 200, 1):
            t = feed(log, t - 20 * step, step, 400)
        feed(log, -(10**6), 997, 1500)  # older than every window, and inside them
        del log[100:5000]
        log.compact()
        log._validate()
        assert log.stats()["records"] == len(list(log))


def test_background_mode_adapts_too():
    ada = {"target_records": 2000, "warmup_flushes": 1}
    with Timelog(adaptive=ada, memtable_max_bytes=24 * 4096, busy_policy="flush") as log:
        log.extend([(i * 3, i) for i in range(50_000)])
        log.flush()
        log.compact()
        st = log.stats()["adaptive"]
        assert st["flushes_seen"] >= 1
        assert st["window_size"] == pytest.approx(6000, rel=0.15)
        log._validate()


# ---------------------------------------------------------------- compaction bounds


def test_max_windows_bounds_each_policy_compaction():
    """compaction={"max_windows": 2}: each maint_step compaction writes the
    windows of the oldest L0 segments that fit in two (here two one-window
    segments), repeated steps drain L0, stats() counts the bounded ones,
    and the log equals the model record by record after every step."""
    model = Model()
    kw = dict(window_size=100, max_delta_segments=1, compaction={"max_windows": 2})
    with manual(**kw) as log:
        for w in (3, 7, 1, 9, 0, 5, 2, 8, 4, 6):  # oldest is not lowest
            pairs = [(w * 100 + 3 * i, object()) for i in range(30)]
            log.extend(pairs)
            model.extend(pairs)
            log.flush()  # one L0 segment per window
        log.delete(430, 560)
        model.delete_range(430, 560)
        assert log.stats()["storage"]["segments_l0"] == 10
        l1_before = 0
        for _ in range(5):
            assert log.maint_step()
            st = log.stats()
            # No L1 existed before: every L1 segment is a window written.
            assert st["storage"]["segments_l1"] - l1_before <= 2
            l1_before = st["storage"]["segments_l1"]
            log._validate()
            assert same_records(list(log), model.visible())
        st = log.stats()
        assert st["storage"]["segments_l0"] == 0
        assert st["storage"]["segments_l1"] == 10
        assert st["operational"]["compactions_total"] == 5
        assert st["operational"]["compactions_bounded_total"] == 4
        while log.maint_step():
            pass
        assert same_records(list(log), model.visible())


def test_max_windows_lets_a_wide_segment_through_alone_and_compact_ignores_it():
    """An L0 segment over more windows than the bound is compacted alone
    (L0 still drains); an explicit compact() is never bounded."""
    kw = dict(window_size=100, max_delta_segments=1, compaction={"max_windows": 2})
    with manual(**kw) as log:
        log.extend([(t, t) for t in range(0, 600, 20)])  # six windows
        log.flush()
        log.extend([(950, "a")])
        log.flush()
        assert log.maint_step()
        st = log.stats()
        assert st["storage"]["segments_l0"] == 1
        assert st["storage"]["segments_l1"] == 6
        assert log.maint_step()
        assert log.stats()["storage"]["segments_l0"] == 0
        assert log.stats()["operational"]["compactions_bounded_total"] == 1
    with manual(**kw) as log:
        for w in range(10):
            log.extend([(w * 100 + i, i) for i in range(5)])
            log.flush()
        log.compact()
        st = log.stats()
        assert st["storage"]["segments_l0"] == 0
        assert st["storage"]["segments_l1"] == 10
        assert st["operational"]["compactions_bounded_total"] == 0
        assert len(log) == 50

"""stats(): counters move through memtable -> memrun/L0 -> L1 as documented."""

import random

import pytest

from timelog import Timelog

SECTIONS = {
    "storage": {
        "records_estimate",
        "physical_records",
        "memruns",
        "memrun_records",
        "segments_l0",
        "segments_l1",
        "records_l0",
        "records_l1",
        "pages_total",
        "tombstone_count",
        "min_ts",
        "max_ts",
    },
    "memtable": {"active_records", "ooo_records", "sealed_runs"},
    "memory": {"engine_bytes", "peak_bytes", "alloc_calls", "alloc_failures"},
    "operational": {
        "seals_total",
        "flushes_total",
        "compactions_total",
        "busy_events",
        "extend_skipped",
        "retired_queue_len",
        "dropped_handles",
        "snapshots",
        "covered_drops_total",
        "compactions_bounded_total",
    },
}


def test_shape(log):
    st = log.stats()
    assert set(st) == {
        "records",
        "storage",
        "memtable",
        "memory",
        "operational",
        "adaptive",
        "config",
    }
    assert set(st["adaptive"]) == {
        "enabled",
        "target_records",
        "window_size",
        "density",
        "flushes_seen",
        "resizes",
        "failures",
    }
    for section, keys in SECTIONS.items():
        assert set(st[section]) == keys, section
    for section in SECTIONS:
        for key, value in st[section].items():
            if key in ("min_ts", "max_ts"):
                continue
            assert type(value) is int and value >= 0, (section, key)


def test_empty(log):
    st = log.stats()
    assert st["records"] == 0
    assert st["storage"]["min_ts"] is None and st["storage"]["max_ts"] is None
    assert st["storage"]["physical_records"] == 0
    assert st["memory"]["engine_bytes"] > 0  # the engine's own structures are accounted


def test_layers_through_flush_and_compact(log):
    n = 1000
    log.extend((t, t) for t in range(n))
    st = log.stats()
    assert st["records"] == n
    assert st["memtable"]["active_records"] == n
    assert st["storage"]["segments_l0"] == 0 and st["storage"]["segments_l1"] == 0
    assert (st["storage"]["min_ts"], st["storage"]["max_ts"]) == (0, n - 1)

    log.flush()
    st = log.stats()
    assert st["records"] == n
    assert st["memtable"]["active_records"] == 0
    assert st["storage"]["memruns"] == 0
    assert st["storage"]["segments_l0"] >= 1
    assert st["storage"]["records_l0"] == n
    assert st["storage"]["pages_total"] >= 1
    assert st["operational"]["seals_total"] >= 1
    assert st["operational"]["flushes_total"] >= 1

    log.extend((t, t) for t in range(n, 2 * n))
    log.flush()
    st = log.stats()
    assert st["storage"]["records_l0"] == 2 * n
    assert st["storage"]["segments_l0"] >= 2

    log.compact()
    st = log.stats()
    assert st["records"] == 2 * n
    assert st["storage"]["segments_l0"] == 0
    assert st["storage"]["records_l0"] == 0
    assert st["storage"]["segments_l1"] >= 1
    assert st["storage"]["records_l1"] == 2 * n
    assert st["operational"]["compactions_total"] >= 1
    log._validate()


def test_seal_creates_memruns_without_flush(small_log):
    small_log.extend((t, t) for t in range(3000))
    st = small_log.stats()
    assert st["operational"]["seals_total"] >= 1
    assert st["storage"]["memruns"] >= 1
    assert st["memtable"]["sealed_runs"] == st["storage"]["memruns"]
    assert st["storage"]["memrun_records"] + st["memtable"]["active_records"] == 3000
    small_log.flush()
    st = small_log.stats()
    assert st["storage"]["memruns"] == 0
    assert st["storage"]["records_l0"] == 3000


def test_out_of_order_records_counted(log):
    for t, o in [(10, "a"), (5, "b"), (20, "c"), (1, "d")]:
        log[t] = o
    st = log.stats()
    assert st["memtable"]["ooo_records"] >= 1
    assert st["memtable"]["active_records"] == 4


def test_tombstones_counted_then_folded(log):
    log.extend((t, t) for t in range(100))
    log.flush()
    del log[10:20]
    st = log.stats()
    assert st["records"] == 90
    assert st["storage"]["tombstone_count"] >= 1
    assert st["storage"]["physical_records"] == 100  # hidden, not yet dropped
    log.compact()
    st = log.stats()
    assert st["records"] == 90
    assert st["storage"]["physical_records"] == 90
    assert st["storage"]["tombstone_count"] == 0
    assert st["operational"]["dropped_handles"] >= 10


def test_memory_counters(log):
    base = log.stats()["memory"]
    log.extend((t, t) for t in range(10_000))
    after = log.stats()["memory"]
    assert after["engine_bytes"] > base["engine_bytes"]
    assert after["peak_bytes"] >= after["engine_bytes"]
    assert after["alloc_calls"] > base["alloc_calls"]
    assert after["alloc_failures"] == 0
    assert log.__sizeof__() > after["engine_bytes"]


def test_snapshots_counter(log):
    log[1] = 1
    assert log.stats()["operational"]["snapshots"] == 0
    it = log.all()
    assert log.stats()["operational"]["snapshots"] >= 1
    it.close()
    assert log.stats()["operational"]["snapshots"] == 0


def test_len_exact_after_mixed_writes_and_deletes(small_log):
    rng = random.Random(11)
    expected = {}
    seq = 0
    for step in range(3000):
        r = rng.random()
        if r < 0.7:
            t = rng.randrange(0, 500)
            small_log[t] = step
            expected.setdefault(t, []).append(step)
        elif r < 0.8:
            a = rng.randrange(0, 500)
            b = a + rng.randrange(0, 50)
            del small_log[a:b]
            for t in range(a, b):
                expected.pop(t, None)
        elif r < 0.85:
            t = rng.randrange(0, 500)
            small_log.delete(t)
            expected.pop(t, None)
        elif r < 0.9:
            small_log.flush()
        elif r < 0.92:
            small_log.compact()
        else:
            small_log.maint_step()
        if step % 97 == 0:
            n = sum(map(len, expected.values()))
            assert len(small_log) == n
            assert small_log.stats()["records"] == n
            seq += 1
    assert len(small_log) == sum(map(len, expected.values()))
    assert seq > 0
    small_log._validate()


def test_config_section_echoes_settings():
    with Timelog(maintenance="disabled", memtable_max_bytes=1 << 20, busy_policy="flush") as log:
        cfg = log.stats()["config"]
        assert cfg["maintenance"] == "disabled"
        assert cfg["memtable_max_bytes"] == 1 << 20
        assert cfg["busy_policy"] == "flush"
        cfg["busy_policy"] = "mutated"  # a copy: mutating it changes nothing
        assert log.stats()["config"]["busy_policy"] == "flush"


def test_retired_queue_and_dropped_handles(log):
    log.extend((t, object()) for t in range(50))
    log.flush()
    del log[:]
    log.compact()
    st = log.stats()
    assert st["operational"]["retired_queue_len"] == 0  # drained by the binding
    assert st["operational"]["dropped_handles"] == 50
    assert log.retired_queue_len == 0


def test_maint_step_returns_bool(log):
    assert log.maint_step() is False  # nothing to do on an empty log
    log.extend((t, t) for t in range(10))
    done = []
    while True:
        r = log.maint_step()
        assert isinstance(r, bool)
        if not r:
            break
        done.append(r)
        assert len(done) < 100
    assert len(log) == 10


@pytest.mark.parametrize("maintenance", ["background", "disabled"])
def test_stats_on_both_modes(maintenance):
    with Timelog(maintenance=maintenance) as log:
        log.extend((t, t) for t in range(100))
        assert log.stats()["records"] == 100

"""Write-path backpressure: busy means the write WAS stored."""

import numpy as np
import pytest

from timelog import Timelog, TimelogBusyError, TimelogError


def tiny(policy):
    # Manual maintenance, a memtable that seals every few records and room
    # for one sealed run: the second seal without a flush must report busy.
    return Timelog(maintenance="disabled", busy_policy=policy,
                   memtable_max_bytes=1024, sealed_max_runs=1)


def test_busy_error_is_a_timelog_error():
    assert issubclass(TimelogBusyError, TimelogError)


def test_raise_policy_raises_and_keeps_the_record():
    log = tiny("raise")
    stored = 0
    with pytest.raises(TimelogBusyError, match="stored") as exc:
        for i in range(100_000):
            stored += 1
            log[i] = i
    assert "retry" in str(exc.value)
    assert len(log) == stored              # the record that raised is stored
    assert log[stored - 1] == [stored - 1]
    assert log.busy_events == 1
    assert log.stats()["operational"]["busy_events"] == 1
    log.flush()                            # relieves the pressure
    log[10**6] = "after"
    assert len(log) == stored + 1
    log._validate()
    log.close()


def test_silent_policy_counts_and_stores_everything():
    log = tiny("silent")
    for i in range(5000):
        log[i] = i
    assert log.busy_events > 0
    assert len(log) == 5000
    assert [o for _, o in log] == list(range(5000))
    log._validate()
    log.close()


def test_flush_policy_flushes_and_stores_everything():
    log = tiny("flush")
    for i in range(5000):
        log.append(i, i)
    st = log.stats()
    assert log.busy_events > 0
    assert st["operational"]["flushes_total"] > 0
    assert st["storage"]["segments_l0"] + st["storage"]["segments_l1"] > 0
    assert len(log) == 5000
    log._validate()
    log.close()


def fill_until_busy(log):
    """Appends in the 'silent' sense until the engine is under pressure."""
    i = 0
    while log.busy_events == 0:
        try:
            log[i] = i
        except TimelogBusyError:
            pass
        i += 1
        assert i < 100_000
    return i


@pytest.mark.parametrize("write", ["extend", "bulk_append"])
def test_busy_batch_stored_entirely(write):
    log = tiny("raise")
    n0 = fill_until_busy(log)
    assert len(log) == n0
    batch_ts = list(range(10**6, 10**6 + 500))
    with pytest.raises(TimelogBusyError):
        if write == "extend":
            log.extend(zip(batch_ts, batch_ts))
        else:
            log.bulk_append(np.array(batch_ts, dtype=np.int64), batch_ts)
    assert len(log) == n0 + 500
    assert log.count(10**6, 10**6 + 500) == 500
    assert log.busy_events == 2
    log.close()


@pytest.mark.parametrize("write", ["append_now", "append_kw", "append_pos", "setitem"])
def test_every_append_form_reports_busy_and_keeps_the_record(write):
    log = tiny("raise")
    fill_until_busy(log)
    before = len(log)
    attempts = 0
    with pytest.raises(TimelogBusyError):
        for i in range(100_000):
            attempts += 1
            if write == "append_now":
                log.append(i)
            elif write == "append_kw":
                log.append(i, ts=i)
            elif write == "append_pos":
                log.append(i, i)
            else:
                log[i] = i
    assert len(log) == before + attempts
    assert log.busy_events == 2
    log.close()


def test_busy_events_property_matches_stats():
    log = tiny("silent")
    for i in range(3000):
        log[i] = i
    assert log.busy_events == log.stats()["operational"]["busy_events"] > 0
    log.close()


def test_background_streaming_never_loses_writes():
    with Timelog.for_streaming(memtable_max_bytes=4096) as log:
        for i in range(50_000):
            log[i] = i
        assert len(log) == 50_000
        log._validate()

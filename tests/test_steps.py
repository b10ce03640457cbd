"""Time-aware steps and tumbling windows (issue 18 item 5): counts(),
histogram(step=) and windows() take the step as an int in time_unit, a
timedelta, a numpy.timedelta64 or a fixed-frequency pandas offset string,
converted exactly; windows() yields the buckets of counts() as iterators
over one snapshot."""

import datetime
import gc
import random
import warnings

import numpy as np
import pytest

from timelog import Timelog, TimelogError, TimelogIter

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UNITS = ("s", "ms", "us", "ns")
PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _log(unit="ms", ts=()):
    lg = Timelog(time_unit=unit, maintenance="disabled")
    lg.extend((t, t) for t in ts)
    return lg


@pytest.fixture(params=UNITS)
def unit_log(request):
    unit = request.param
    per = PER_SECOND[unit]
    rng = random.Random(7)
    # Records over 3 days, spaced in whole seconds or finer.
    ts = sorted(rng.randrange(0, 3 * 86400 * per) for _ in range(2000))
    lg = _log(unit, ts)
    yield lg
    lg.close()


# ---------------------------------------------------------------- every form, every unit


def _forms(seconds):
    """Spellings of a duration of `seconds` (an int) that every unit can hold."""
    forms = [
        datetime.timedelta(seconds=seconds),
        np.timedelta64(seconds, "s"),
        np.timedelta64(seconds * 1000, "ms"),
        np.timedelta64(seconds * 10**9, "ns"),
        "%ds" % seconds,
        "%dms" % (seconds * 1000),
        "%dus" % (seconds * 10**6),
        "%d\u00b5s" % (seconds * 10**6),
        "%dns" % (seconds * 10**9),
        " %d s " % seconds,
        "%dS" % seconds,
        "%dL" % (seconds * 1000),
    ]
    if seconds % 60 == 0:
        forms += [
            "%dmin" % (seconds // 60),
            "%dT" % (seconds // 60),
            np.timedelta64(seconds // 60, "m"),
        ]
    if seconds % 3600 == 0:
        forms += [
            "%dh" % (seconds // 3600),
            "%dH" % (seconds // 3600),
            np.timedelta64(seconds // 3600, "h"),
        ]
    if seconds % 86400 == 0:
        forms += [
            "%dD" % (seconds // 86400),
            np.timedelta64(seconds // 86400, "D"),
            datetime.timedelta(days=seconds // 86400),
        ]
    return forms


@pytest.mark.parametrize("seconds", [1, 7, 60, 90, 3600, 5400, 86400, 2 * 86400])
def test_every_step_form_equals_the_int_step_in_every_unit(unit_log, seconds):
    lg = unit_log
    k = seconds * PER_SECOND[lg.time_unit]
    t1, t2 = lg.min_ts(), lg.max_ts() + 1
    want = lg.counts(t1, t2, k)
    want_hist = lg.histogram(t1, t2, step=k)
    assert want.sum() == len(lg)
    for form in _forms(seconds):
        got = lg.counts(t1, t2, form)
        assert got.tolist() == want.tolist(), form
        hc, he = lg.histogram(t1, t2, step=form)
        assert hc.tolist() == want_hist[0].tolist() and he.tolist() == want_hist[1].tolist()
        # windows over a stretch of 50 steps (3 days of 1 s windows is slow)
        w2 = min(t2, t1 + 50 * k)
        assert [s for s, _ in lg.windows(t1, w2, form)] == lg.histogram(t1, w2, step=k)[1][
            :-1
        ].tolist()


def test_compound_decimal_and_unitless_strings():
    with _log("ms", range(0, 20000, 7)) as lg:
        assert lg.counts(0, 20000, "1h30min").tolist() == lg.counts(0, 20000, 5_400_000).tolist()
        assert lg.counts(0, 20000, "1.5s").tolist() == lg.counts(0, 20000, 1500).tolist()
        assert lg.counts(0, 20000, "min").tolist() == lg.counts(0, 20000, 60_000).tolist()
        assert lg.counts(0, 20000, "+2s").tolist() == lg.counts(0, 20000, 2000).tolist()


def test_sub_unit_steps_in_fine_units():
    with _log("ns", range(0, 10_000, 3)) as lg:
        assert lg.counts(0, 10_000, "250ns").tolist() == lg.counts(0, 10_000, 250).tolist()
        assert (
            lg.counts(0, 10_000, np.timedelta64(1, "us")).tolist()
            == lg.counts(0, 10_000, 1000).tolist()
        )
        # timedelta64 finer than ns, still whole ns
        assert (
            lg.counts(0, 10_000, np.timedelta64(2000, "ps")).tolist()
            == lg.counts(0, 10_000, 2).tolist()
        )
    with _log("us", range(0, 10_000, 3)) as lg:
        assert (
            lg.counts(0, 10_000, datetime.timedelta(microseconds=7)).tolist()
            == lg.counts(0, 10_000, 7).tolist()
        )


def test_numpy_integer_steps_unchanged(log):
    log.extend((t, None) for t in range(10))
    assert log.counts(0, 10, np.int64(4)).tolist() == [4, 4, 2]
    assert log.counts(0, 10, np.uint8(5)).tolist() == [5, 5]


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "unit,step,finer",
    [
        ("s", "1500ms", "ms"),
        ("s", datetime.timedelta(milliseconds=1), "microseconds"),
        ("ms", np.timedelta64(1500, "us"), "us"),
        ("ms", "1us", "us"),
        ("us", np.timedelta64(1, "ns"), "ns"),
        ("us", "1ns", "ns"),
        ("ns", np.timedelta64(1, "ps"), "ps"),
        ("s", "0.5s", "0.5s"),
        ("s", "1.5s", "1.5s"),
        ("ms", "0.5ms", "0.5ms"),
    ],
)
def test_inexact_steps_raise_naming_both_units(unit, step, finer):
    with _log(unit, [0, 1, 5]) as lg:
        for call in (
            lambda: lg.counts(0, 10, step),
            lambda: lg.histogram(0, 10, step=step),
            lambda: lg.windows(0, 10, step),
        ):
            with pytest.raises(ValueError, match="whole number of %s ticks" % unit) as ei:
                call()
            assert finer in str(ei.value)
            assert "time_unit is '%s'" % unit in str(ei.value)


@pytest.mark.parametrize(
    "step",
    [
        "1M",
        "M",
        "2M",
        "1ME",
        "MS",
        "1Y",
        "Y",
        "YE",
        "A",
        "Q",
        "QS",
        "W",
        "2W",
        "W-MON",
        "W-SUN",
        "Q-DEC",
        "B",
        "2BH",
        "SM",
        "1h1M",
        np.timedelta64(1, "M"),
        np.timedelta64(2, "Y"),
    ],
)
def test_calendar_offsets_are_refused_as_not_fixed_length(log, step):
    log.extend([(1, "a"), (2, "b")])
    before = list(log)
    for call in (
        lambda: log.counts(0, 10, step),
        lambda: log.histogram(0, 10, step=step),
        lambda: log.windows(0, 10, step),
    ):
        with pytest.raises(ValueError, match="not a fixed length"):
            call()
    assert list(log) == before


def test_pandas_offsets_and_timedeltas():
    pd = pytest.importorskip("pandas", reason="pandas is not installed")
    with _log("ns", range(0, 10**6, 997)) as lg:
        assert (
            lg.counts(0, 10**6, pd.Timedelta(1234, "ns")).tolist()
            == lg.counts(0, 10**6, 1234).tolist()
        )
        assert (
            lg.counts(0, 10**6, pd.offsets.Micro(5)).tolist() == lg.counts(0, 10**6, 5000).tolist()
        )
        with pytest.raises(ValueError, match="not a fixed length"):
            lg.counts(0, 10**6, pd.offsets.MonthEnd())
        with pytest.raises(ValueError, match="not a fixed length"):
            lg.counts(0, 10**6, pd.offsets.Week(weekday=0))
    with _log("us", [0]) as lg:
        # pandas.Timedelta is a datetime.timedelta: its nanoseconds count
        with pytest.raises(ValueError, match="whole number of us ticks"):
            lg.counts(0, 10, pd.Timedelta(1500, "ns"))


@pytest.mark.parametrize("bad", [True, False, np.bool_(True)], ids=repr)
def test_bool_steps_are_type_errors(log, bad):
    log.extend([(1, "a")])
    with pytest.raises(TypeError, match="bool"):
        log.counts(0, 10, bad)
    with pytest.raises(TypeError, match="bool"):
        log.histogram(0, 10, step=bad)
    with pytest.raises(TypeError, match="bool"):
        log.windows(0, 10, bad)


@pytest.mark.parametrize(
    "bad",
    [
        0,
        -1,
        datetime.timedelta(0),
        datetime.timedelta(seconds=-1),
        np.timedelta64(0, "s"),
        np.timedelta64(-5, "ms"),
        "0s",
        "-1min",
        "0ms",
    ],
    ids=repr,
)
def test_zero_and_negative_steps_are_value_errors(log, bad):
    log.extend([(1, "a")])
    for call in (
        lambda: log.counts(0, 10, bad),
        lambda: log.histogram(0, 10, step=bad),
        lambda: log.windows(0, 10, bad),
    ):
        with pytest.raises(ValueError, match="positive"):
            call()


# Timedelta64s without a unit: NumPy >= 2.5 deprecates building one (a
# DeprecationWarning, an error under this suite's filterwarnings), but users
# may still hold them and the step parser must still refuse them.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The 'generic' unit", DeprecationWarning)
    _GENERIC_TIMEDELTA = np.timedelta64(5)
    _GENERIC_NAT = np.timedelta64("NaT")


@pytest.mark.parametrize(
    "bad",
    [
        1.5,
        "3",
        " 7 ",
        [2],
        None,
        object(),
        _GENERIC_TIMEDELTA,
        _GENERIC_NAT,
        "",
        "abc",
        "1 parsec",
        "1D-MON",
    ],
    ids=repr,
)
def test_other_bad_steps(log, bad):
    log.extend([(1, "a")])
    with pytest.raises((TypeError, ValueError), match="step") as ei:
        log.counts(0, 10, bad)
    if isinstance(bad, (float, list, type(None), object)) and not isinstance(
        bad, (str, np.timedelta64)
    ):
        assert ei.type is TypeError
    if isinstance(bad, str) and bad.strip().isdigit():
        assert ei.type is TypeError  # a number without a unit: as before
    with pytest.raises((TypeError, ValueError), match="every"):
        log.windows(0, 10, bad)


def test_histogram_bins_still_counts_and_duration_bins_are_steps(log):
    log.extend((t, None) for t in [0, 1, 2, 2, 5, 9])
    assert [a.tolist() for a in log.histogram(0, 10, bins=3)] == [[4, 1, 1], [0, 3, 6, 10]]
    assert [a.tolist() for a in log.histogram(0, 10, "4ms")] == [[4, 1, 1], [0, 4, 8, 10]]
    assert [a.tolist() for a in log.histogram(0, 10, step=4)] == [[4, 1, 1], [0, 4, 8, 10]]
    assert [a.tolist() for a in log.histogram(step=datetime.timedelta(milliseconds=5))] == [
        [4, 2],
        [0, 5, 10],
    ]
    with pytest.raises(TypeError, match="not both"):
        log.histogram(0, 10, bins=3, step=4)
    with pytest.raises(TypeError, match="bins"):
        log.histogram(0, 10, bins="3")


def test_closed_log_says_closed_first():
    lg = _log("ms", [1])
    lg.close()
    for call in (
        lambda: lg.counts(0, 10, "1s"),
        lambda: lg.counts(0, 10, "1M"),
        lambda: lg.histogram(0, 10, step=True),
        lambda: lg.windows(0, 10, "1ms"),
        lambda: lg.windows(0, 10, 0),
    ):
        with pytest.raises(TimelogError, match="closed"):
            call()


# ---------------------------------------------------------------- windows()


def _random_log(rng, n=3000, span=100_000):
    lg = Timelog(
        maintenance="disabled", memtable_max_bytes=4096, target_page_bytes=1024, sealed_max_runs=64
    )
    ts = [rng.randrange(0, span) for _ in range(n)]
    for i in range(0, n, 500):
        lg.extend((t, ("p", t, i + j)) for j, t in enumerate(ts[i : i + 500]))
        if i % 1000 == 0:
            lg.flush()
        if i == 1500:
            lg.compact()
        a = rng.randrange(0, span)
        lg.delete(a, a + rng.randrange(1, 2000))
    return lg


@pytest.mark.parametrize("seed", range(6))
def test_windows_cover_the_range_record_by_record(seed):
    rng = random.Random(seed)
    lg = _random_log(rng)
    try:
        for _ in range(5):
            t1 = rng.choice([None, rng.randrange(-1000, 100_000)])
            t2 = rng.choice([None, rng.randrange(-1000, 101_000)])
            every = rng.choice([1, 7, 100, 999, 5000, 10**6])
            form = rng.choice(
                [
                    every,
                    "%dms" % every,
                    datetime.timedelta(milliseconds=every),
                    np.timedelta64(every * 1000, "us"),
                ]
            )
            wins = [(s, list(it)) for s, it in lg.windows(t1, t2, form)]
            expect = list(lg[t1:t2]) if t1 is None or t2 is None or t1 < t2 else []
            if t2 is None and t1 is not None and lg.max_ts() is not None and t1 > lg.max_ts():
                expect = []
            assert [r for _, recs in wins for r in recs] == expect
            _, edges = lg.histogram(t1, t2, step=form)
            counts = lg.counts(t1, t2, form)
            assert [s for s, _ in wins] == edges[:-1].tolist()
            assert [len(recs) for _, recs in wins] == counts.tolist()
            for i, (s, recs) in enumerate(wins):
                assert all(s <= t < edges[i + 1] for t, _ in recs)
            if wins:
                lo = t1 if t1 is not None else lg.min_ts()
                assert wins[0][0] == lo
                assert all(b - a == every for (a, _), (b, _) in zip(wins, wins[1:]))
    finally:
        lg.close()


def test_windows_alignment_and_empty_windows(log):
    log.extend([(3, "a"), (4, "b"), (25, "c")])
    wins = list(log.windows(2, 27, 5))
    assert [s for s, _ in wins] == [2, 7, 12, 17, 22]
    assert all(isinstance(it, TimelogIter) for _, it in wins)
    assert [list(it) for _, it in wins] == [[(3, "a"), (4, "b")], [], [], [], [(25, "c")]]
    assert repr(wins[1][1]).startswith("<TimelogIter [7, 12) = [")
    # the last window is clipped at t2
    last = list(log.windows(2, 24, 5))[-1][1]
    assert "[22, 24)" in repr(last)
    # open bounds: [min_ts, max_ts] inclusive
    assert [(s, len(it)) for s, it in log.windows(None, None, 10)] == [(3, 2), (13, 0), (23, 1)]
    assert list(log.windows(30, 30, 1)) == [] and list(log.windows(40, 30, 1)) == []


def test_windows_with_datetime_bounds():
    with Timelog(time_unit="s", maintenance="disabled") as lg:
        base = datetime.datetime(2024, 1, 1)
        lg.extend((base + datetime.timedelta(minutes=m), m) for m in range(0, 180, 7))
        wins = list(lg.windows(base, base + datetime.timedelta(hours=3), "1h"))
        epoch = int(base.replace(tzinfo=datetime.timezone.utc).timestamp())
        assert [s for s, _ in wins] == [epoch, epoch + 3600, epoch + 7200]
        assert [[m for _, m in it] for _, it in wins] == [
            list(range(0, 60, 7)),
            list(range(63, 120, 7)),
            list(range(126, 180, 7)),
        ]


def test_windows_on_an_empty_log_and_at_the_int64_edges(log):
    assert list(log.windows(None, None, 5)) == []
    assert [len(it) for _, it in log.windows(0, 10, 5)] == [0, 0]
    log.extend([(INT64_MIN, "lo"), (INT64_MAX - 3, "a"), (INT64_MAX, "hi")])
    wins = list(log.windows(INT64_MAX - 5, None, 3))
    assert [s for s, _ in wins] == [INT64_MAX - 5, INT64_MAX - 2]
    assert [list(it) for _, it in wins] == [[(INT64_MAX - 3, "a")], [(INT64_MAX, "hi")]]
    wins = list(log.windows(None, INT64_MIN + 2, 1))
    assert [(s, list(it)) for s, it in wins] == [
        (INT64_MIN, [(INT64_MIN, "lo")]),
        (INT64_MIN + 1, []),
    ]
    big = list(log.windows(None, None, 2**64))
    assert len(big) == 1 and len(big[0][1]) == 3


def test_all_windows_read_one_snapshot(log):
    log.extend((t, t) for t in range(100))
    before = list(log[0:100])
    wins = log.windows(0, 100, 10)
    first = next(wins)
    log.extend((t, "late") for t in range(100))  # after the call: seen by none
    log.delete(50, 60)  # hides 20: 10 old, 10 late
    log.flush()
    log.compact()
    got = list(first[1]) + [r for _, it in wins for r in it]
    assert got == before
    # a new call sees the new state
    assert sum(len(it) for _, it in log.windows(0, 100, 10)) == 180


def test_windows_survive_close_of_the_log():
    lg = _log("ms", range(20))
    wins = lg.windows(0, 20, 5)
    lg.close()
    assert [[t for t, _ in it] for _, it in wins] == [
        list(range(i, i + 5)) for i in range(0, 20, 5)
    ]


def test_windows_close_releases_the_pin(log):
    log.extend((t, t) for t in range(10))
    base = log.stats()["operational"]["snapshots"]
    wins = log.windows(0, 10, 2)
    s, it = next(wins)
    wins.close()
    assert wins.closed and list(wins) == []
    assert list(it) == [(0, 0), (1, 1)]  # a window already handed out keeps its own
    with log.windows(0, 10, 2) as w2:
        next(w2)
    assert w2.closed
    del it, wins, w2
    gc.collect()
    log.extend([(100, "x")])  # a write moves the log's own read pin on
    assert log.stats()["operational"]["snapshots"] <= base


def test_exhausted_windows_release_the_pin_and_refuse_pickling(log):
    import pickle

    log.extend((t, t) for t in range(4))
    wins = log.windows(0, 4, 2)
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(wins)
    assert len(list(wins)) == 2 and wins.closed
    with pytest.raises(TypeError):
        type(wins)()

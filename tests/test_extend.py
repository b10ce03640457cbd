"""extend(): both forms, insert_on_error both ways, atomicity."""

import sys
import warnings

import numpy as np
import pytest

from timelog import Timelog

INT64_MAX = 2**63 - 1


def test_pairs_form(log):
    log.extend([(3, "c"), (1, "a"), (2, "b")])
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]


def test_two_list_form(log):
    log.extend([3, 1, 2], ["c", "a", "b"])
    assert list(log) == [(1, "a"), (2, "b"), (3, "c")]


def test_accepts_any_iterables(log):
    log.extend((i, str(i)) for i in range(5))
    log.extend(range(10, 13), iter(["x", "y", "z"]))
    log.extend(([20, "p"], (21, "q")))  # lists or tuples as pairs
    assert [t for t, _ in log] == [0, 1, 2, 3, 4, 10, 11, 12, 20, 21]


def test_generator_objects_are_kept_alive(log):
    # The only reference to each object lives in a temporary pair.
    log.extend((i, [i]) for i in range(1000))
    assert [o for _, o in log.range(0, 3)] == [[0], [1], [2]]


def test_numpy_timestamps_two_list_form(log):
    log.extend(np.array([5, 4], dtype=np.int64), ["b", "a"])
    assert list(log) == [(4, "a"), (5, "b")]


def test_empty_batches(log):
    log.extend([])
    log.extend([], [])
    assert len(log) == 0


def test_duplicates_and_extremes(log):
    log.extend([(INT64_MAX, 1), (-(2**63), 2), (INT64_MAX, 3), (0, 4)])
    assert [t for t, _ in log] == [-(2**63), 0, INT64_MAX, INT64_MAX]
    assert sorted(log[INT64_MAX]) == [1, 3]


def test_mostly_ordered_hint_never_changes_results(log):
    data = [(i * 7 % 13, i) for i in range(50)]
    log.extend(data, mostly_ordered=True)
    a = sorted(list(log))
    del log[:]
    log.extend(data, mostly_ordered=False)
    assert sorted(list(log)) == a
    with pytest.raises(TypeError, match="mostly_ordered"):
        log.extend(data, mostly_ordered="yes")


def test_insert_on_error_default_skips_counts_and_warns(log):
    log[0] = "before"
    with pytest.warns(RuntimeWarning, match=r"skipped 4 record") as rec:
        log.extend([(1, "a"), (1.5, "bad"), ("2", "bad"), (3, "c"), (True, "bad"), (2**64, "bad")])
    assert "insert_on_error=False" in str(rec[0].message)
    assert list(log) == [(0, "before"), (1, "a"), (3, "c")]
    assert log.extend_skipped == 4
    assert log.stats()["operational"]["extend_skipped"] == 4
    with pytest.warns(RuntimeWarning, match="skipped 1 record"):
        log.extend([None, 5], ["bad", "e"])
    assert log.extend_skipped == 5
    assert log[5] == ["e"]


def test_warning_points_at_the_caller(log):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        log.extend([(None, 1)])
    assert w[0].filename == __file__


def test_no_warning_when_nothing_skipped(log):
    log.extend([(1, "a")])  # filterwarnings=error would turn one into a failure
    assert log.extend_skipped == 0


@pytest.mark.parametrize(
    "bad,exc",
    [
        (1.5, TypeError),
        ("7", TypeError),
        (None, TypeError),
        (True, TypeError),
        (2**63, OverflowError),
        (-(2**63) - 1, OverflowError),
    ],
)
def test_insert_on_error_false_raises_and_stores_nothing(log, bad, exc):
    log[0] = "keep"
    with pytest.raises(exc):
        log.extend([(1, "a"), (bad, "b"), (2, "c")], insert_on_error=False)
    with pytest.raises(exc):
        log.extend([1, bad], ["a", "b"], insert_on_error=False)
    assert list(log) == [(0, "keep")]
    assert log.extend_skipped == 0


@pytest.mark.parametrize("item", [(1,), (1, 2, 3), "ab", 5, None, {"ts": 1}])
def test_structural_errors_store_nothing(log, item):
    log[0] = "keep"
    with pytest.raises(ValueError, match="item 1"):
        log.extend([(1, "a"), item, (2, "c")])
    with pytest.raises(ValueError):
        log.extend([(1, "a"), item], insert_on_error=False)
    assert list(log) == [(0, "keep")]


def test_length_mismatch_stores_nothing(log):
    with pytest.raises(ValueError, match="length mismatch"):
        log.extend([1, 2, 3], ["a", "b"])
    with pytest.raises(ValueError, match="length mismatch"):
        log.extend([1], ["a", "b"])
    assert len(log) == 0


def test_below_min_ts_stores_nothing_even_with_insert_on_error():
    with Timelog(min_ts=10, maintenance="disabled") as log:
        with pytest.raises(ValueError, match="min_ts"):
            log.extend([(10, "a"), (9, "b"), (11, "c")])
        with pytest.raises(ValueError, match="min_ts"):
            log.extend([10, 9], ["a", "b"], insert_on_error=False)
        assert len(log) == 0
        log.extend([(10, "a"), (11, "c")])
        assert len(log) == 2


def test_raising_iterable_stores_nothing_and_leaks_nothing(log):
    obj = object()
    before = sys.getrefcount(obj)

    def gen():
        yield (1, obj)
        yield (2, obj)
        raise RuntimeError("source failed")

    with pytest.raises(RuntimeError, match="source failed"):
        log.extend(gen())
    assert len(log) == 0
    assert sys.getrefcount(obj) == before


def test_failed_batch_releases_its_references(log):
    obj = object()
    before = sys.getrefcount(obj)
    with pytest.raises(ValueError):
        log.extend([(1, obj), (2, obj), "bad"])
    with pytest.raises(TypeError):
        log.extend([(1, obj), (2.0, obj)], insert_on_error=False)
    assert sys.getrefcount(obj) == before
    log.extend([(1, obj), (2, obj)])
    assert sys.getrefcount(obj) == before + 2


def test_insert_on_error_must_be_bool(log):
    with pytest.raises(TypeError, match="insert_on_error"):
        log.extend([(1, "a")], insert_on_error=1)
    assert len(log) == 0


def test_large_batch_crosses_seals(small_log):
    small_log.extend((i, i) for i in range(20000))
    assert len(small_log) == 20000
    small_log.extend([(i, -i) for i in range(19999, -1, -1)])
    assert len(small_log) == 40000
    small_log._validate()


class _Idx:
    """An int-like timestamp (not an exact int): takes the general path."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


@pytest.mark.parametrize("form", ["pairs", "columns"])
def test_fast_and_general_items_interleave_in_order(log, form):
    # Exact (int, obj) tuples go through the fast scanner; everything else
    # (lists, int-likes, numpy ints, bools, out-of-range ints, datetimes)
    # through the general path; the stored result must be the same as one
    # append per valid record, in input order among equal timestamps.
    ts = [5, _Idx(3), 7, np.int64(3), True, 2**70, 3, -(2**63), 3, 8]
    objs = [f"o{i}" for i in range(len(ts))]
    expect = log.__class__(maintenance="disabled")
    try:
        for t, o in zip(ts, objs):
            if type(t) is bool or (isinstance(t, int) and not -(2**63) <= t < 2**63):
                continue
            expect.append(t, o)
        with pytest.warns(RuntimeWarning, match="skipped 2"):
            if form == "pairs":
                log.extend([[t, o] if i == 6 else (t, o) for i, (t, o) in enumerate(zip(ts, objs))])
            else:
                log.extend(ts, objs)
        assert list(log) == list(expect)
        assert log.extend_skipped == 2
    finally:
        expect.close()


def test_fast_path_failure_mid_list_releases_references():
    obj = object()
    with Timelog(min_ts=0, maintenance="disabled") as log:
        pairs = [(i, obj) for i in range(1000)] + [(-1, obj)] + [(i, obj) for i in range(5)]
        before = sys.getrefcount(obj)
        with pytest.raises(ValueError, match="min_ts"):
            log.extend(pairs)
        with pytest.raises(ValueError, match="min_ts"):
            log.extend([p[0] for p in pairs], [p[1] for p in pairs])
        assert len(log) == 0
        assert sys.getrefcount(obj) == before
        log.extend(pairs[:1000])
        assert sys.getrefcount(obj) == before + 1000


def test_skip_warning_as_error_stores_nothing():
    # Where warnings are errors, the skip warning raises before anything is
    # stored: the call is all-or-nothing, so a retry cannot duplicate.
    log = Timelog(maintenance="disabled")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="skipped 1 record"):
            log.extend([(1, "a"), (1.5, "b")])
        assert len(log) == 0 and log.extend_skipped == 0
        with pytest.raises(RuntimeWarning):
            log.extend([1, 1.5], ["a", "b"])
        assert len(log) == 0
    with pytest.warns(RuntimeWarning):  # a warning as usual: stored, counted
        log.extend([(1, "a"), (1.5, "b")])
    assert list(log) == [(1, "a")] and log.extend_skipped == 1
    log.close()


def test_skip_warning_under_python_W_error_stores_nothing():
    import subprocess

    code = (
        "from timelog import Timelog\n"
        "log = Timelog(maintenance='disabled')\n"
        "try:\n"
        "    log.extend([(1, 'a'), (1.5, 'b')])\n"
        "except RuntimeWarning:\n"
        "    pass\n"
        "log.extend([(1, 'a'), (2, 'b')])\n"
        "print(list(log))\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[(1, 'a'), (2, 'b')]"

"""TimelogIter.next_arrays(n): columnar streaming (issue 18 item 5).

Checked against next_batch() on twin iterators (same snapshot, same range)
over every layer, with deletes, duplicates, writes interleaved with the
iteration and a closed log."""

import gc
import random
import sys
import threading

import numpy as np
import pytest

from timelog import Timelog

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _layered_log(rng, n=20_000, span=50_000):
    lg = Timelog(
        maintenance="disabled",
        memtable_max_bytes=64 * 1024,
        target_page_bytes=4096,
        sealed_max_runs=64,
    )
    ts = [rng.randrange(0, span) for _ in range(n)]
    step = n // 5
    for i in range(0, n, step):
        lg.extend((t, ("obj", i + j)) for j, t in enumerate(ts[i : i + step]))
        a = rng.randrange(0, span)
        lg.delete(a, a + rng.randrange(1, 500))
        if i == step:
            lg.compact()  # L1
        elif i == 2 * step:
            lg.flush()  # L0
        elif i == 3 * step:
            lg.maint_step()  # maybe a memrun
    lg.extend([(7, "dup"), (7, "dup2"), (INT64_MAX, "max"), (INT64_MIN, "min")])
    return lg


def _drain_arrays(it, sizes):
    ts, objs = [], []
    k = 0
    while True:
        n = sizes[k % len(sizes)]
        a, o = it.next_arrays(n)
        k += 1
        assert a.dtype == np.int64 and a.ndim == 1 and len(a) == len(o) <= n
        if n == 0:
            assert o == []
            continue
        if not len(a):
            return ts, objs
        ts.extend(a.tolist())
        objs.extend(o)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "sizes", [[1], [3, 1000], [4095, 4096, 4097], [65536], [2**100], [0, 17, 5000, 1]]
)
def test_next_arrays_equals_next_batch(seed, sizes):
    rng = random.Random(seed)
    lg = _layered_log(rng)
    try:
        for t1, t2 in [(None, None), (100, 40_000), (7, 8), (60_000, None), (5, 5)]:
            it_a, it_b = lg[t1:t2], lg[t1:t2]
            ts, objs = _drain_arrays(it_a, sizes)
            ref = []
            while True:
                b = it_b.next_batch(4096)
                if not b:
                    break
                ref.extend(b)
            assert list(zip(ts, objs)) == ref
            assert all(o is r for o, (_, r) in zip(objs, ref))  # the stored objects
            assert it_a.closed
            a, o = it_a.next_arrays(10)  # never StopIteration
            assert a.dtype == np.int64 and a.shape == (0,) and o == []
    finally:
        lg.close()


def test_mixed_with_next_and_next_batch(log):
    log.extend((t, str(t)) for t in range(10_000))
    it = log.all()
    got = [next(it)]
    a, o = it.next_arrays(5)
    got += list(zip(a.tolist(), o))
    got += it.next_batch(7)
    a, o = it.next_arrays(6000)  # part buffered, the rest fetched directly
    got += list(zip(a.tolist(), o))
    got.append(next(it))
    a, o = it.next_arrays(2**70)
    got += list(zip(a.tolist(), o))
    assert got == [(t, str(t)) for t in range(10_000)]
    assert it.closed and list(it) == []


def test_zero_and_len(log):
    log.extend((t, t) for t in range(10))
    it = log.all()
    a, o = it.next_arrays(0)
    assert a.shape == (0,) and o == [] and not it.closed and len(it) == 10
    a, o = it.next_arrays(3)
    assert a.tolist() == [0, 1, 2] and len(it) == 7
    a, o = it.next_arrays(7)
    assert a.tolist() == list(range(3, 10)) and it.closed


def test_arrays_are_owned_and_writable(log):
    log.extend((t, t) for t in range(100))
    a, _ = log.all().next_arrays(50)
    assert a.flags.owndata and a.flags.writeable and a.flags.c_contiguous
    a[0] = -1  # the engine is untouched
    assert log.all().next_arrays(1)[0].tolist() == [0]


@pytest.mark.parametrize(
    "bad,exc",
    [
        (True, TypeError),
        (np.bool_(False), TypeError),
        (1.5, TypeError),
        ("3", TypeError),
        (None, TypeError),
        (-1, ValueError),
        (-(2**70), ValueError),
    ],
)
def test_bad_n(log, bad, exc):
    log.extend([(1, "a")])
    it = log.all()
    with pytest.raises(exc, match="next_arrays"):
        it.next_arrays(bad)
    assert list(it) == [(1, "a")]  # nothing consumed


def test_after_deletes_and_with_writes_interleaved(log):
    log.extend((t, t) for t in range(20_000))
    log.delete(100, 200)
    log.flush()
    log.delete(5000, 5100)
    it_a, it_b = log[0:15_000], log[0:15_000]
    ts = []
    rng = random.Random(3)
    while True:
        a, _ = it_a.next_arrays(rng.choice([1, 500, 5000]))
        if not len(a):
            break
        ts.extend(a.tolist())
        # writes, deletes and maintenance between reads: the iterator keeps its snapshot
        t = rng.randrange(0, 15_000)
        log.extend([(t, "new")])
        log.delete(t, t + 50)
        if rng.random() < 0.2:
            log.flush()
        if rng.random() < 0.05:
            log.compact()
    ref = [t for t, _ in it_b]
    assert ts == ref
    assert ts == [t for t in range(15_000) if not (100 <= t < 200 or 5000 <= t < 5100)]


def test_iterator_outlives_close_of_the_log():
    lg = Timelog(maintenance="disabled")
    lg.extend((t, [t]) for t in range(10_000))
    lg.flush()
    lg.extend((t, [t]) for t in range(10_000, 10_100))
    it = lg.all()
    first = it.next_arrays(10)
    lg.close()
    a, o = it.next_arrays(2**40)
    assert first[0].tolist() == list(range(10))
    assert a.tolist() == list(range(10, 10_100)) and o[-1] == [10_099]
    assert it.closed


def test_closed_iterator_gives_empty_arrays(log):
    log.extend((t, t) for t in range(10))
    it = log.all()
    it.close()
    a, o = it.next_arrays(5)
    assert a.shape == (0,) and o == []


def test_references_are_counted_exactly(log):
    obj = object()
    log.extend((t, obj) for t in range(5000))
    base = sys.getrefcount(obj)
    it = log.all()
    a, o = it.next_arrays(10)
    b, p = it.next_arrays(4990)
    assert sys.getrefcount(obj) == base + 5000
    del o, p
    gc.collect()
    assert sys.getrefcount(obj) == base
    del it


def test_objects_stay_alive_after_the_log_drops_them(log):
    class Payload:
        pass

    log.extend((t, Payload()) for t in range(100))
    _, objs = log.all().next_arrays(100)
    log.close()
    gc.collect()
    assert all(type(x) is Payload for x in objs)


# ---------------------------------------------------------------- one iterator, two threads


@pytest.mark.parametrize("other", ["next_arrays", "next_batch", "next"])
def test_iterator_shared_by_two_threads_yields_each_record_once(other):
    # The busy rule of next_batch(): a second call while one runs with the
    # GIL released raises RuntimeError instead of racing on the cursor.
    log = Timelog(maintenance="disabled")
    n = 200_000
    log.bulk_append(np.arange(n, dtype=np.int64), list(range(n)))
    log.flush()
    it = log.all()
    got = [[], []]

    def worker(i):
        mine = got[i]
        while True:
            try:
                if i == 0 or other == "next_arrays":
                    ts, objs = it.next_arrays(5000)
                    if not len(ts):
                        return
                    mine.extend(zip(ts.tolist(), objs))
                elif other == "next_batch":
                    batch = it.next_batch(5000)
                    if not batch:
                        return
                    mine.extend(batch)
                else:
                    try:
                        mine.append(next(it))
                    except StopIteration:
                        return
            except RuntimeError as e:
                assert "already in use" in str(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
        assert not th.is_alive()
    records = got[0] + got[1]
    assert sorted(t for t, _ in records) == list(range(n))
    assert all(t == o for t, o in records)
    log.close()


def test_close_from_another_thread_during_a_fetch_is_deferred():
    log = Timelog(maintenance="disabled")
    n = 300_000
    log.bulk_append(np.arange(n, dtype=np.int64), list(range(n)))
    for _ in range(20):
        it = log.all()
        out = []

        def fetch():
            try:
                ts, objs = it.next_arrays(n)
                out.extend(zip(ts.tolist(), objs))
            except RuntimeError:
                pass

        th = threading.Thread(target=fetch)
        th.start()
        it.close()
        th.join(30)
        assert not th.is_alive()
        assert it.closed
        assert [t for t, _ in out] == list(range(len(out)))
        assert all(t == o for t, o in out)
    log.close()

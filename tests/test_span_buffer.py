"""PageSpan's buffer protocol: memoryview(span), np.frombuffer(span, np.int64)
and np.asarray(span) read the span's timestamps in place, read-only, and
every live export keeps the snapshot pin (close() refuses meanwhile)."""

import ctypes
import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pinned(lg):
    return lg.stats()["operational"]["snapshots"]


@pytest.fixture
def flushed(log):
    log.extend((t, "v%d" % t) for t in range(0, 2000, 2))
    log.flush()
    return log


def first_span(lg, *args):
    return next(lg.views(*args))


def test_memoryview_is_read_only_1d_int64(flushed):
    span = first_span(flushed)
    with memoryview(span) as mv:
        assert mv.format == "q"
        assert mv.itemsize == 8
        assert mv.ndim == 1
        assert mv.shape == (len(span),)
        assert mv.strides == (8,)
        assert mv.readonly
        assert mv.c_contiguous and mv.contiguous
        assert mv.nbytes == 8 * len(span)
        assert mv.obj is span
        assert mv.tolist() == span.timestamps.tolist()
        assert mv[0] == span.start_ts and mv[-1] == span.last_ts
    span.close()


def test_clipped_and_cut_spans_export_their_own_records(log):
    log.extend((t, t) for t in range(100))
    log.flush()
    del log[40:50]
    spans = list(log.views(10, 90))
    got = []
    for s in spans:
        with memoryview(s) as mv:
            got += mv.tolist()
    assert got == [t for t in range(10, 90) if not 40 <= t < 50]
    for s in spans:
        s.close()


def test_writes_are_refused(flushed):
    span = first_span(flushed)
    before = span.timestamps.tolist()
    mv = memoryview(span)
    with pytest.raises(TypeError):
        mv[0] = 5
    b = mv.cast("B")
    assert b.readonly
    with pytest.raises(TypeError):
        b[0] = 1
    with pytest.raises(TypeError):
        b[:8] = bytes(8)
    with pytest.raises((TypeError, BufferError)):
        (ctypes.c_int64 * len(span)).from_buffer(span)  # asks for a writable buffer
    a = np.frombuffer(span, dtype=np.int64)
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a.flags.writeable = True
    with pytest.raises(ValueError):
        a[0] = 1
    assert span.timestamps.tolist() == before
    b.release()
    mv.release()
    del a
    span.close()


def test_numpy_sees_int64_timestamps_without_copying(flushed):
    span = first_span(flushed)
    a = np.asarray(span)
    f = np.frombuffer(span, dtype=np.int64)
    for x in (a, f):
        assert x.dtype == np.int64 and x.ndim == 1
        assert x.tolist() == span.timestamps.tolist()
        assert not x.flags.writeable
        assert x.__array_interface__["data"][0] == span._address
        assert np.shares_memory(x, span.timestamps)
    assert np.array(span).dtype == np.int64  # np.array copies, still int64
    assert int(np.asarray(span).sum()) == int(span.timestamps.sum())
    del a, f, x
    span.close()


def test_close_refuses_while_an_export_lives(flushed):
    span = first_span(flushed)
    mv1 = memoryview(span)
    arr = np.frombuffer(span, dtype=np.int64)
    with pytest.raises(BufferError, match="2 buffer export"):
        span.close()
    assert not span.closed
    assert span.timestamps.tolist() == mv1.tolist()  # still fully usable
    mv1.release()
    with pytest.raises(BufferError, match="1 buffer export"):
        span.close()
    del arr
    gc.collect()
    span.close()
    assert span.closed
    span.close()  # idempotent


def test_with_block_exit_refuses_while_an_export_lives(flushed):
    span = first_span(flushed)
    with pytest.raises(BufferError):
        with span:
            mv = memoryview(span)
    assert not span.closed
    mv.release()
    with span:
        pass
    assert span.closed


def test_memoryview_after_close_names_the_closed_span(flushed):
    span = first_span(flushed)
    span.close()
    with pytest.raises(ValueError, match=r"PageSpan.*closed"):
        memoryview(span)
    with pytest.raises(ValueError, match="closed"):
        np.frombuffer(span, dtype=np.int64)


def test_export_keeps_the_pin_after_span_iterator_and_data_are_gone(log):
    log.extend((t, t) for t in range(500))
    log.flush()
    it = log.views()
    span = next(it)
    want = span.timestamps.tolist()
    mv = memoryview(span)
    arr = np.asarray(span)
    del span, it
    gc.collect()
    del log[:]
    log.extend((t, -t) for t in range(1000, 1500))
    log.flush()
    log.compact()
    assert pinned(log) >= 1  # the exports hold the old state
    assert mv.tolist() == want and arr.tolist() == want
    mv.release()
    assert pinned(log) >= 1  # arr still does
    assert arr.tolist() == want
    del arr
    gc.collect()
    assert pinned(log) == 0


def test_export_outlives_log_close(log):
    log.extend((t, t) for t in range(300))
    log.flush()
    span = first_span(log)
    mv = memoryview(span)
    want = mv.tolist()
    del span
    log.close()
    gc.collect()
    assert mv.tolist() == want
    mv.release()


def test_spans_with_no_export_still_close_and_timestamps_stay_ndarray(flushed):
    span = first_span(flushed)
    memoryview(span).release()
    assert isinstance(span.timestamps, np.ndarray)  # our design (docs/api.md)
    span.close()


@pytest.mark.parametrize("close_log", [False, True])
def test_export_alive_at_interpreter_exit_is_quiet(close_log):
    code = textwrap.dedent("""
        import numpy as np
        from timelog import Timelog
        log = Timelog()
        log.extend((t, object()) for t in range(5000))
        log.flush()
        span = next(log.views())
        mv = memoryview(span)
        b = mv.cast("B")
        arr = np.frombuffer(span, dtype=np.int64)
        cyc = [mv]; cyc.append(cyc)          # an export inside a reference cycle
        assert arr[0] == 0
        if CLOSE:
            log.close()
        """).replace("CLOSE", str(close_log))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(
        [sys.executable, "-X", "dev", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""

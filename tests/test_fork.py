"""fork(): a child inherits usable logs and never hangs.

Around os.fork() the binding prepares every live engine (its locks taken in
order, waiting for a maintenance unit in progress), releases them in the
parent and re-initialises them in the child, where the worker thread does not
exist: the child reads and writes the inherited log, a background log starts
a new worker at its first write that needs maintenance, and closing or simply
exiting never waits for the parent's thread. Every child here runs under a
deadline, so a hang fails the test instead of the suite.
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback

import numpy as np
import pytest

from timelog import Timelog

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns about fork() in a process with threads (the workers).
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD_TIMEOUT = 30.0


def run_child(fn, timeout=CHILD_TIMEOUT):
    """Runs fn() in a forked child; returns its exit code (0 = fn returned).
    A child still running at the deadline is killed and the test fails."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(r)
            fn()
            code = 0
        except BaseException:
            os.write(w, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os.close(w)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(r)
            pytest.fail("forked child still running after %.0f s (hang)" % timeout)
        time.sleep(0.005)
    with os.fdopen(r, "rb") as f:
        err = f.read().decode()
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, "child failed:\n" + err
    return code


def fill(log, n, start=0):
    log.bulk_append(np.arange(start, start + n, dtype=np.int64), list(range(start, start + n)))


def test_child_reads_writes_and_closes_inherited_background_log():
    log = Timelog(memtable_max_bytes=4096, max_delta_segments=2, busy_policy="flush")
    try:
        fill(log, 20_000)
        assert log.maintenance_running

        def child():
            assert len(log) == 20_000
            assert [v for _, v in log[100:103]] == [100, 101, 102]
            for i in range(20_000, 30_000):  # seals: a new worker starts
                log.append(i, i)
            assert log.maintenance_running
            log.flush()
            log.compact()
            assert len(log) == 30_000
            assert sum(1 for _ in log) == 30_000
            log._validate()
            log.close()

        run_child(child)
        # The parent is untouched by the child's work and keeps working.
        assert len(log) == 20_000 and log.maintenance_running
        fill(log, 1000, 20_000)
        log.flush()
        assert len(log) == 21_000
    finally:
        log.close()


def test_child_keeps_maintenance_stopped_when_parent_stopped_it():
    log = Timelog(memtable_max_bytes=4096, busy_policy="flush")
    try:
        log.stop_maintenance()
        fill(log, 5000)

        def child():
            fill(log, 5000, 5000)
            assert not log.maintenance_running
            assert len(log) == 10_000
            log.close()

        run_child(child)
    finally:
        log.close()


def test_fork_during_compaction_every_child_exits():
    # A writer thread keeps the worker sealing, flushing and compacting (and
    # owns the writer gate with the GIL released during bulk_append) while
    # the main thread forks over and over.
    log = Timelog(memtable_max_bytes=4096, max_delta_segments=2, busy_policy="flush")
    stop = threading.Event()
    errors = []

    # Payloads are None: a child's close releases every inherited record, and
    # distinct objects would make that a copy-on-write of the whole heap.
    nones = [None] * 5000

    def writer():
        try:
            base = 0
            while not stop.is_set():
                log.bulk_append(np.arange(base, base + 5000, dtype=np.int64), nones)
                base += 5000
                if base % 50_000 == 0:
                    log.delete(0, base - 20_000)  # keeps the log (and the children) small
                    log.compact()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        for k in range(30):

            def child():
                n = len(log)
                assert sum(1 for _ in log) == n
                fill(log, 3000, 10**9)  # the gate is free in the child
                assert len(log) == n + 3000
                log.compact()
                log.close()

            run_child(child)
            time.sleep(0.005)
    finally:
        stop.set()
        t.join()
        log.close()
    assert not errors


def test_children_exit_normally_without_closing():
    # The child that hung before: it inherits a log whose worker was running
    # and leaves it to interpreter shutdown (no close, no os._exit), or closes
    # it, or writes first. Run in a fresh interpreter so its exit is real.
    script = textwrap.dedent("""
        import os, sys, time, threading
        import numpy as np
        from timelog import Timelog
        logs = [Timelog(memtable_max_bytes=4096, max_delta_segments=2,
                        busy_policy="flush") for _ in range(3)]
        def feed():
            for b in range(0, 400_000, 4000):
                for lg in logs:
                    lg.bulk_append(np.arange(b, b + 4000, dtype=np.int64), [None] * 4000)
        t = threading.Thread(target=feed); t.start()
        pids = []
        for k in range(12):
            pid = os.fork()
            if pid == 0:
                if k % 3 == 1:
                    logs[0].append(10**9, "x"); logs[0].close()
                elif k % 3 == 2:
                    for i in range(5000):
                        logs[1].append(10**9 + i, i)
                sys.exit(0)          # normal shutdown: Timelog deallocs close engines
            pids.append(pid)
            time.sleep(0.01)
        t.join()
        deadline = time.monotonic() + 30
        for pid in pids:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    assert os.waitstatus_to_exitcode(status) == 0, status
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    print("HUNG", pid); sys.exit(3)
                time.sleep(0.01)
        print("OK")
    """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert r.returncode == 0 and "OK" in r.stdout, r.stdout + r.stderr


_POOL_LOG = None


def _pool_task(i):
    # Runs in a fork-started pool worker: the module global is the parent's
    # log, inherited by the fork.
    log = _POOL_LOG
    n = len(log)
    base = 10**9 + i * 10_000
    for k in range(5000):
        log.append(base + k, k)
    return n, len(log), sum(1 for _ in log[base : base + 10_000])


def test_multiprocessing_fork_pool_uses_inherited_log():
    global _POOL_LOG
    _POOL_LOG = log = Timelog(memtable_max_bytes=4096, max_delta_segments=2, busy_policy="flush")
    try:
        fill(log, 50_000)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            res = pool.map_async(_pool_task, range(6)).get(timeout=60)
        for n, after, mine in res:
            assert n >= 50_000 and after >= n + 5000 and mine == 5000
        assert len(log) == 50_000  # children write to their own copies
    finally:
        _POOL_LOG = None
        log.close()


def test_fork_with_open_iterator_and_closed_log_in_parent():
    # Pins and detached engines cross the fork too: the child can finish an
    # iterator made before the fork, and a log closed in the parent stays
    # closed in the child.
    log = Timelog(memtable_max_bytes=4096, busy_policy="flush")
    other = Timelog()
    other.close()
    try:
        fill(log, 10_000)
        log.flush()
        it = log[0:10_000]
        next(it)

        def child():
            assert sum(1 for _ in it) == 9_999
            assert other.closed
            log.close()
            it.close()

        run_child(child)
        assert sum(1 for _ in it) == 9_999
    finally:
        log.close()

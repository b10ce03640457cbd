"""One contender's side of benchmarks/compare.py, run in that contender's own
interpreter (timelog's .venv, or the reference design's venv under
build/peers/), so that the reference package, which imports as ``timelog``
too, never meets this repository's.

Two modes:

- default: a line protocol. The parent writes one JSON request per line on
  stdin (``{"workload": ..., "n": ..., "check": bool}``); the worker runs that
  workload once and answers one JSON line on stdout: ``{"ns": total
  nanoseconds, "ops": operations timed, "check": a value every contender must
  agree on}``, or ``{"na": reason}`` where the contender has no such API, or
  ``{"error": traceback}``. The first line it writes describes itself.
- ``--memory N``: a fresh process that bulk-ingests N records once and reports
  resident-memory and engine-memory figures (see ``memory()``).

Every contender runs the same workload code: ``TimelogLike`` serves both
timelog and the reference (their APIs coincide except where noted), and the
SortedKeyList and floor contenders mirror the same loops with their own
cheapest equivalent call. Data come from the .npy files compare.py wrote with
fixed seeds; payloads are ``list(range(n))`` (the arrival index), built the
same way in every worker. The cyclic GC is off while a workload is timed (as
``timeit`` does), and collected before.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time
import traceback
from operator import itemgetter

import numpy as np

perf_ns = time.perf_counter_ns
BATCH = 4096  # next_batch size
FIRST = itemgetter(0)


class NotApplicable(Exception):
    """The contender has no such API; the workload is reported as n/a."""


# ------------------------------------------------------------------ data


class Data:
    """The arrays compare.py wrote for one N, and what every contender derives
    from them (lists, payloads, the sorted order), built once per worker."""

    def __init__(self, root, n):
        self.n = n
        d = os.path.join(root, "n%d" % n)
        load = lambda name: np.load(os.path.join(d, name + ".npy"))
        self.in_order = load("in_order")  # arrival order == time order
        self.late = load("late")  # 5% of records arrive late
        self.q_point = load("q_point").tolist()  # existing timestamps
        self.q_range = [tuple(r) for r in load("q_range").tolist()]  # ~10 records each
        self.q_count = [tuple(r) for r in load("q_count").tolist()]  # log-uniform widths
        self.q_delete = [tuple(r) for r in load("q_delete").tolist()]
        self.q_cutoff = load("q_cutoff").tolist()
        self._cache = {}

    def __getattr__(self, name):  # lazily derived values
        if name.startswith("_"):
            raise AttributeError(name)
        c = self.__dict__["_cache"]
        if name not in c:
            c[name] = getattr(self, "_make_" + name)()
        return c[name]

    def _make_objs(self):
        return list(range(self.n))

    def _make_in_order_list(self):
        return self.in_order.tolist()

    def _make_late_list(self):
        return self.late.tolist()

    def _make_pairs(self):  # in-order (ts, obj) pairs
        return list(zip(self.in_order_list, self.objs))

    def _make_order(self):
        return np.argsort(self.late, kind="stable")

    def _make_sorted_ts(self):
        return self.late[self.order]

    def _make_sorted_objs(self):
        return [self.objs[i] for i in self.order.tolist()]

    def _make_sorted_ts_list(self):
        return self.sorted_ts.tolist()

    def _make_sorted_pairs(self):
        return list(zip(self.sorted_ts.tolist(), self.sorted_objs))


def export_numpy_check(ts, vals):
    # Which record comes first among equal timestamps is unspecified, so
    # the check is order-free where ties could differ.
    return [int(ts.size), int(ts.sum()), str(ts.dtype), str(vals.dtype), float(vals.sum())]


def export_dict_check(d):
    # Which duplicate wins is unspecified: keys only.
    return [len(d), sum(d)]


class Trial:
    """A prepared run: ``run()`` is the timed part (``ops`` operations);
    ``check()`` and ``cleanup()`` are not timed."""

    def __init__(self, run, ops, check=None, cleanup=None):
        self.run, self.ops = run, ops
        self.check = check or (lambda: None)
        self.cleanup = cleanup or (lambda: None)


# ------------------------------------------------------------------ contenders


class TimelogLike:
    """timelog and the reference design: one implementation of every workload,
    through the public API the two share."""

    def __init__(self, mod, is_ref):
        self.mod = mod
        self.is_ref = is_ref
        self._populated = None  # (n, log), reused by reads

    # ----- construction
    def new_stream(self):
        # Background maintenance (the default); on write backpressure the
        # writer flushes and carries on, rather than raising mid-loop.
        return self.mod.Timelog(busy_policy="flush")

    def new_bulk(self):
        return self.mod.Timelog.for_bulk_ingest()

    @staticmethod
    def settle(log):
        log.flush()
        log.compact()
        for _ in range(10_000):  # the reference compacts in steps
            if not log.maint_step():
                break

    def populate(self, D):
        log = self.new_bulk()
        if hasattr(log, "bulk_append"):
            log.bulk_append(D.late, D.objs)
        else:  # timelog-lib < 1.3
            log.extend(list(zip(D.late_list, D.objs)))
        self.settle(log)
        return log

    def populated(self, D):
        if self._populated is None or self._populated[0] != D.n:
            self.drop()
            self._populated = (D.n, self.populate(D))
        return self._populated[1]

    def drop(self):
        if self._populated is not None:
            self._populated[1].close()
            self._populated = None

    @staticmethod
    def scan_count(log):
        n = 0
        for _ in log[:]:
            n += 1
        return n

    # ----- per-record writes
    def _append_loop(self, D, ts_list, form):
        log = self.new_stream()
        objs = D.objs
        if form == "ts_obj":
            app = log.append

            def run():
                for t, o in zip(ts_list, objs):
                    app(t, o)
        elif form == "obj":
            app = log.append

            def run():
                for o in objs:
                    app(o)
        else:  # log[ts] = obj

            def run():
                for t, o in zip(ts_list, objs):
                    log[t] = o

        return Trial(run, D.n, check=lambda: len(log), cleanup=log.close)

    def w_append_ts_obj(self, D):
        return self._append_loop(D, D.in_order_list, "ts_obj")

    def w_append_obj(self, D):
        return self._append_loop(D, None, "obj")

    def w_setitem(self, D):
        return self._append_loop(D, D.in_order_list, "setitem")

    def w_append_ooo5(self, D):
        return self._append_loop(D, D.late_list, "ts_obj")

    # ----- batch writes
    def w_extend_pairs(self, D):
        log = self.new_bulk()
        pairs = D.pairs
        return Trial(lambda: log.extend(pairs), D.n, check=lambda: len(log), cleanup=log.close)

    def _bulk(self, D, ts):
        log = self.new_bulk()
        if not hasattr(log, "bulk_append"):
            log.close()
            raise NotApplicable("no bulk_append in this release")
        objs = D.objs
        return Trial(
            lambda: log.bulk_append(ts, objs),
            D.n,
            check=lambda: self.scan_count(log),
            cleanup=log.close,
        )

    def w_bulk_sorted(self, D):
        return self._bulk(D, D.in_order)

    def w_bulk_ooo5(self, D):
        return self._bulk(D, D.late)

    # ----- scans over a populated log (bulk_append of the late stream, settled)
    def w_scan_full(self, D):
        log = self.populated(D)

        def run():
            for ts, obj in log[:]:
                pass

        return Trial(run, D.n, check=lambda: self.scan_count(log))

    def w_scan_next_batch(self, D):
        log = self.populated(D)
        out = [0]

        def run():
            it = log[:]
            nb = it.next_batch
            total = 0
            while True:
                b = nb(BATCH)
                if not b:
                    break
                total += len(b)
            out[0] = total

        return Trial(run, D.n, check=lambda: out[0])

    def w_scan_arrays(self, D):
        if self.is_ref:
            raise NotApplicable(
                "no (int64 array, object list) export; its to_numpy() converts payloads to float64"
            )
        log = self.populated(D)
        out = [None]

        def run():
            out[0] = log.arrays()

        return Trial(run, D.n, check=lambda: len(out[0][1]))

    # ----- exports (timelog-lib >= 1.4): fresh arrays with converted values, a dict
    def w_to_numpy(self, D):
        log = self.populated(D)
        if not hasattr(log, "to_numpy"):
            raise NotApplicable("no to_numpy() before timelog-lib 1.4")
        out = [None]

        def run():
            out[0] = log.to_numpy()

        return Trial(run, D.n, check=lambda: export_numpy_check(*out[0]))

    def w_to_dict(self, D):
        log = self.populated(D)
        if not hasattr(log, "to_dict"):
            raise NotApplicable("no to_dict() before timelog-lib 1.4")
        out = [None]

        def run():
            out[0] = log.to_dict()

        return Trial(run, D.n, check=lambda: export_dict_check(out[0]))

    # ----- queries
    def w_range10(self, D):
        log = self.populated(D)
        q = D.q_range

        def run():
            for t1, t2 in q:
                for r in log[t1:t2]:
                    pass

        return Trial(run, len(q), check=lambda: sum(len(list(log[a:b])) for a, b in q))

    def w_point(self, D):
        log = self.populated(D)
        q = D.q_point

        def run():
            for t in q:
                log[t]

        return Trial(run, len(q), check=lambda: sum(len(log[t]) for t in q))

    def w_count(self, D):
        log = self.populated(D)
        q = D.q_count
        if self.is_ref:  # no count(): len() of a range iterator
            rng = log.range

            def count_all():
                return [len(rng(t1, t2)) for t1, t2 in q]
        else:
            cnt = log.count

            def count_all():
                return [cnt(t1, t2) for t1, t2 in q]

        return Trial(count_all, len(q), check=lambda: sum(count_all()))

    # ----- deletes on a freshly populated log (built untimed, every round)
    def w_delete(self, D):
        log = self.populate(D)
        q = D.q_delete
        dele = log.delete

        def run():
            for a, b in q:
                dele(a, b)

        return Trial(run, len(q), check=lambda: self.scan_count(log), cleanup=log.close)

    def w_cutoff(self, D):
        log = self.populate(D)
        q = D.q_cutoff
        cut = log.cutoff

        def run():
            for t in q:
                cut(t)

        return Trial(run, len(q), check=lambda: self.scan_count(log), cleanup=log.close)

    # ----- analysis over zero-copy spans
    def w_span_sum(self, D):
        log = self.populated(D)
        out = [0]
        if self.is_ref:  # spans expose a memoryview
            frombuffer, i64 = np.frombuffer, np.int64

            def run():
                total = 0
                for s in log.views():
                    total += int(frombuffer(s.timestamps, i64).sum())
                out[0] = total
        else:  # spans expose an int64 ndarray

            def run():
                total = 0
                for s in log.views():
                    total += int(s.timestamps.sum())
                out[0] = total

        return Trial(run, D.n, check=lambda: out[0])


class SortedKeyListContender:
    """sortedcontainers.SortedKeyList of (ts, obj) tuples keyed by ts."""

    def __init__(self):
        from sortedcontainers import SortedKeyList

        self.SKL = SortedKeyList
        self._populated = None

    def populate(self, D):
        return self.SKL(zip(D.late_list, D.objs), key=FIRST)

    def populated(self, D):
        if self._populated is None or self._populated[0] != D.n:
            self.drop()
            self._populated = (D.n, self.populate(D))
        return self._populated[1]

    def drop(self):
        self._populated = None

    def _add_loop(self, D, ts_list):
        s = self.SKL(key=FIRST)
        add = s.add
        objs = D.objs

        def run():
            for t, o in zip(ts_list, objs):
                add((t, o))

        return Trial(run, D.n, check=lambda: len(s))

    def w_append_ts_obj(self, D):
        return self._add_loop(D, D.in_order_list)

    def w_append_obj(self, D):
        raise NotApplicable("no auto-timestamp append")

    def w_setitem(self, D):
        raise NotApplicable("no item assignment")

    def w_append_ooo5(self, D):
        return self._add_loop(D, D.late_list)

    def w_extend_pairs(self, D):
        s = self.SKL(key=FIRST)
        pairs = D.pairs
        return Trial(lambda: s.update(pairs), D.n, check=lambda: len(s))

    def _bulk(self, D, ts):
        out = [None]
        objs = D.objs

        def run():  # includes ndarray -> list
            out[0] = self.SKL(zip(ts.tolist(), objs), key=FIRST)

        return Trial(run, D.n, check=lambda: len(out[0]))

    def w_bulk_sorted(self, D):
        return self._bulk(D, D.in_order)

    def w_bulk_ooo5(self, D):
        return self._bulk(D, D.late)

    def w_scan_full(self, D):
        s = self.populated(D)

        def run():
            for ts, obj in s:
                pass

        return Trial(run, D.n, check=lambda: len(s))

    def w_scan_next_batch(self, D):  # closest: positional slices
        s = self.populated(D)
        out = [0]

        def run():
            total = 0
            n = len(s)
            for i in range(0, n, BATCH):
                total += len(s[i : i + BATCH])
            out[0] = total

        return Trial(run, D.n, check=lambda: out[0])

    def w_scan_arrays(self, D):
        raise NotApplicable("no array export")

    def w_to_numpy(self, D):
        raise NotApplicable("no array export")

    def w_to_dict(self, D):
        raise NotApplicable("no dict export")

    def w_range10(self, D):
        s = self.populated(D)
        irange = s.irange_key
        q = D.q_range

        def run():
            for t1, t2 in q:
                for r in irange(t1, t2, inclusive=(True, False)):
                    pass

        return Trial(
            run,
            len(q),
            check=lambda: sum(len(list(irange(a, b, inclusive=(True, False)))) for a, b in q),
        )

    def w_point(self, D):
        s = self.populated(D)
        irange = s.irange_key
        q = D.q_point

        def run():
            for t in q:
                [o for _, o in irange(t, t)]

        return Trial(run, len(q), check=lambda: sum(len(list(irange(t, t))) for t in q))

    def w_count(self, D):
        s = self.populated(D)
        bk = s.bisect_key_left
        q = D.q_count

        def count_all():
            return [bk(t2) - bk(t1) for t1, t2 in q]

        return Trial(count_all, len(q), check=lambda: sum(count_all()))

    def w_delete(self, D):
        s = self.populate(D)
        bk = s.bisect_key_left
        q = D.q_delete

        def run():
            for a, b in q:
                del s[bk(a) : bk(b)]

        return Trial(run, len(q), check=lambda: len(s))

    def w_cutoff(self, D):
        s = self.populate(D)
        bk = s.bisect_key_left
        q = D.q_cutoff

        def run():
            for t in q:
                del s[: bk(t)]

        return Trial(run, len(q), check=lambda: len(s))

    def w_span_sum(self, D):
        raise NotApplicable("no contiguous timestamp storage")


class Floor:
    """The cheapest thing Python/NumPy can do for the same work."""

    def drop(self):
        pass

    def _append_loop(self, D, ts_list):
        lst = []
        app = lst.append
        objs = D.objs
        if ts_list is None:

            def run():
                for o in objs:
                    app(o)
        else:

            def run():
                for t, o in zip(ts_list, objs):
                    app(o)

        return Trial(run, D.n, check=lambda: len(lst))

    def w_append_ts_obj(self, D):
        return self._append_loop(D, D.in_order_list)

    def w_append_obj(self, D):
        return self._append_loop(D, None)

    def w_setitem(self, D):
        return self._append_loop(D, D.in_order_list)

    def w_append_ooo5(self, D):
        return self._append_loop(D, D.late_list)

    def w_extend_pairs(self, D):
        lst = []
        pairs = D.pairs
        return Trial(lambda: lst.extend(pairs), D.n, check=lambda: len(lst))

    def _bulk(self, D, ts, sort):
        out = [None]
        objs = D.objs

        def run():
            out[0] = ((np.sort(ts) if sort else np.copy(ts)), list(objs))

        return Trial(run, D.n, check=lambda: len(out[0][1]))

    def w_bulk_sorted(self, D):
        return self._bulk(D, D.in_order, False)

    def w_bulk_ooo5(self, D):
        return self._bulk(D, D.late, True)

    def w_scan_full(self, D):
        pairs = D.sorted_pairs

        def run():
            for ts, obj in pairs:
                pass

        return Trial(run, D.n, check=lambda: len(pairs))

    def w_scan_next_batch(self, D):
        pairs = D.sorted_pairs
        out = [0]

        def run():
            total = 0
            for i in range(0, len(pairs), BATCH):
                total += len(pairs[i : i + BATCH])
            out[0] = total

        return Trial(run, D.n, check=lambda: out[0])

    def w_scan_arrays(self, D):
        ts, objs = D.sorted_ts, D.sorted_objs
        out = [None]

        def run():
            out[0] = (np.copy(ts), list(objs))

        return Trial(run, D.n, check=lambda: len(out[0][1]))

    def w_to_numpy(self, D):
        ts, objs = D.sorted_ts, D.sorted_objs
        out = [None]

        def run():
            out[0] = (np.copy(ts), np.array(objs, dtype=np.float64))

        return Trial(run, D.n, check=lambda: export_numpy_check(*out[0]))

    def w_to_dict(self, D):
        ts, objs = D.sorted_ts_list, D.sorted_objs
        out = [None]

        def run():
            out[0] = dict(zip(ts, objs))

        return Trial(run, D.n, check=lambda: export_dict_check(out[0]))

    def w_range10(self, D):
        ss = D.sorted_ts.searchsorted
        pairs = D.sorted_pairs
        q = D.q_range

        def run():
            for t1, t2 in q:
                for r in pairs[ss(t1) : ss(t2)]:
                    pass

        return Trial(run, len(q), check=lambda: sum(len(pairs[ss(a) : ss(b)]) for a, b in q))

    def w_point(self, D):
        ss = D.sorted_ts.searchsorted
        objs = D.sorted_objs
        q = D.q_point

        def run():
            for t in q:
                objs[ss(t) : ss(t, "right")]

        return Trial(run, len(q), check=lambda: sum(len(objs[ss(t) : ss(t, "right")]) for t in q))

    def w_count(self, D):
        ss = D.sorted_ts.searchsorted
        q = D.q_count

        def count_all():
            return [int(ss(t2) - ss(t1)) for t1, t2 in q]

        return Trial(count_all, len(q), check=lambda: sum(count_all()))

    def w_delete(self, D):
        raise NotApplicable("no floor for a sequenced delete")

    def w_cutoff(self, D):
        raise NotApplicable("no floor for a sequenced delete")

    def w_span_sum(self, D):
        ts = D.sorted_ts
        out = [0]

        def run():
            out[0] = int(np.sum(ts))

        return Trial(run, D.n, check=lambda: out[0])


# ------------------------------------------------------------------ set-up


def _private_copy(pkg):
    """A private copy of the in-place build, imported instead of the work tree's,
    so that a rebuild of the work tree during the run (which rewrites the .so in
    place) cannot touch the library this process has mapped."""
    import atexit
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="timelog-bench-")
    atexit.register(shutil.rmtree, root, True)
    dst = os.path.join(root, "timelog")
    shutil.copytree(
        pkg, dst, ignore=shutil.ignore_patterns("*.c", "*.pyx", "*.pxd", "*.html", "__pycache__")
    )
    return dst


def load_contender(impl, repo):
    """Returns (contender, description dict)."""
    desc = {
        "impl": impl,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "numpy": np.__version__,
    }
    if impl in ("timelog", "ref"):
        if impl == "timelog":
            private = _private_copy(os.path.join(os.path.abspath(repo), "timelog"))
            sys.path.insert(0, os.path.dirname(private))
            desc["built_from"] = os.path.join(os.path.abspath(repo), "timelog")
        import timelog

        path = os.path.abspath(timelog.__file__)
        ours = impl == "timelog" and path.startswith(private + os.sep)
        if ours != (impl == "timelog"):
            raise SystemExit("%s worker imported the wrong timelog: %s" % (impl, path))
        version = getattr(timelog, "__version__", None)
        if impl == "ref":
            from importlib import metadata

            version = metadata.version("timelog-lib")
        desc.update(module=path, version=version)
        return TimelogLike(timelog, impl == "ref"), desc
    if impl == "skl":
        import sortedcontainers

        desc.update(version=sortedcontainers.__version__)
        return SortedKeyListContender(), desc
    if impl == "floor":
        return Floor(), desc
    raise SystemExit("unknown contender %r" % impl)


def run_one(contender, D, workload, want_check):
    fn = getattr(contender, "w_" + workload, None)
    if fn is None:
        return {"na": "workload not implemented"}
    try:
        trial = fn(D)
    except NotApplicable as e:
        return {"na": str(e)}
    try:
        gc.collect()
        gc.disable()
        try:
            t0 = perf_ns()
            trial.run()
            dt = perf_ns() - t0
        finally:
            gc.enable()
        check = trial.check() if want_check else None
    finally:
        trial.cleanup()
    return {"ns": dt, "ops": trial.ops, "check": check}


def serve(contender, desc, data_root):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints go to stderr
    sys.stdout = sys.stderr
    proto.write(json.dumps({"ready": desc}) + "\n")
    data = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req.get("cmd") == "quit":
            break
        try:
            n = req["n"]
            if data is None or data.n != n:
                contender.drop()
                data = None
                gc.collect()
                data = Data(data_root, n)
            if req.get("cmd") == "drop":
                contender.drop()
                resp = {"dropped": True}
            else:
                resp = run_one(contender, data, req["workload"], req.get("check", False))
        except Exception:
            resp = {"error": traceback.format_exc()}
        proto.write(json.dumps(resp) + "\n")
    contender.drop()


# ------------------------------------------------------------------ memory


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss_bytes():
    """This process's RSS high-water mark: VmHWM, which /proc/self/clear_refs
    resets. (ru_maxrss is the same counter, except that it also keeps the
    high-water mark of the parent's memory image this process was forked
    from, carried across exec: a big parent would hide the ingest's peak.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak():
    """Reset the RSS high-water mark (Linux >= 4.0), so that ru_maxrss after
    the ingest is the ingest's own peak, not an earlier one's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _trim():
    """Give freed heap back to the OS, so RSS shows what is still in use."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except Exception:
        pass


def memory(contender_name, contender, data_root, n):
    """Bulk-ingest n records (the 5%-late stream) once in this fresh process.

    rss_before: resident bytes after the data (timestamps array, payload
    list) are loaded; peak: the RSS high-water mark (VmHWM, reset just before
    the ingest) after the ingest minus rss_before; final: resident bytes after flush + compact (+ malloc_trim)
    minus rss_before. Payloads are the caller's objects and are not counted.
    """
    D = Data(data_root, n)
    ts, objs = D.late, D.objs
    if contender_name == "skl":
        ts_list = D.late_list  # the list a SortedKeyList user holds
    _trim()
    reset = _reset_peak()
    rss0, max0 = _rss_bytes(), _maxrss_bytes()
    out = {"n": n, "peak_reset": reset}
    t0 = perf_ns()
    if contender_name in ("timelog", "ref"):
        keep = contender.populate(D)  # bulk_append + flush + compact
    elif contender_name == "skl":
        keep = contender.SKL(zip(ts_list, objs), key=FIRST)
    else:
        order = np.argsort(ts, kind="stable")
        keep = (ts[order], [objs[i] for i in order.tolist()])
        del order
    out["ingest_s"] = (perf_ns() - t0) / 1e9
    max1 = _maxrss_bytes()
    _trim()
    rss1 = _rss_bytes()
    out.update(
        rss_before=rss0,
        maxrss_before=max0,
        maxrss_after=max1,
        rss_after=rss1,
        peak_delta=max1 - rss0,
        final_delta=rss1 - rss0,
        peak_hidden=max1 <= max0,
        ru_maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )
    if contender_name in ("timelog", "ref"):
        st = keep.stats()
        mem = st.get("memory")
        if mem and "engine_bytes" in mem:
            out["engine_bytes"] = mem["engine_bytes"]
            out["engine_peak_bytes"] = mem.get("peak_bytes")
        out["stats"] = st
        out["visible"] = TimelogLike.scan_count(keep)
        keep.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", required=True, choices=["timelog", "ref", "skl", "floor"])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--memory", type=int, default=0)
    args = ap.parse_args()
    contender, desc = load_contender(args.impl, args.repo)
    if args.memory:
        out = memory(args.impl, contender, args.data, args.memory)
        out["desc"] = desc
        print(json.dumps(out, default=str))
    else:
        serve(contender, desc, args.data)


if __name__ == "__main__":
    main()

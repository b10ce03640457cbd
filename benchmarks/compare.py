"""Head-to-head benchmark: timelog against the reference design, SortedKeyList
and the cheapest Python/NumPy floor, on the same workloads in one run.

    python benchmarks/compare.py            # full run (make bench-compare)
    python benchmarks/compare.py --quick    # N=100k, 3 rounds, for development
    python benchmarks/compare_report.py     # docs/performance-results.md (make bench-report)

Contenders (each in its own worker process, see compare_worker.py):

- ``timelog``: this repository, imported from the in-place build in .venv;
- ``ref``: the reference design's ``timelog-lib`` from PyPI, in its own venv
  under build/peers/timelog-lib (created here on first use, see
  ``setup_ref``), because it imports as ``timelog`` too;
- ``skl``: ``sortedcontainers.SortedKeyList`` of (ts, obj) keyed by ts;
- ``floor``: the cheapest thing Python/NumPy can do for the same work.

Method: data are generated here with fixed seeds (benchmarks/data.py) and
handed to every worker as .npy files. Rounds are interleaved: for each round
every contender runs the workload once (the order rotating from round to
round), so machine noise hits all alike. A round times one batch of
operations (say 1M appends in one loop) and divides; the report gives the
median over rounds and the min-max. Every contender's answer is checked
against the others' (a fast wrong answer is a failure).

Ratios are always timelog's time over the contender's: below 1 timelog is
faster. Targets (issue 6) are stated in that form next to each ratio and
marked MET or MISSED.
"""

import argparse
import datetime as _dt
import json
import os
import platform
import select
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import data  # noqa: E402  (benchmarks/data.py: the seeded streams)

WORKER = os.path.join(HERE, "compare_worker.py")
REF_VENV = os.path.join(REPO, "build", "peers", "timelog-lib")
COMPAT_H = os.path.join(HERE, "peers", "py311_compat.h")
OUT_DIR = os.path.join(REPO, "build", "bench")

# Releases of timelog-lib on PyPI, newest first: walked back when the newest
# will not build here. All declare Requires-Python >= 3.12.
REF_VERSIONS = ["1.4.0", "1.3.0", "1.2.0", "1.0.1", "1.0.0"]

Q_QUERIES = 20_000  # point, range and count queries per round
BATCH = 4096

# ------------------------------------------------------------------ workloads

# name -> (title, what one op is)
WORKLOADS = {
    "append_ts_obj": ("append(ts, obj), in order", "record"),
    "append_obj": ("append(obj), auto timestamp", "record"),
    "setitem": ("log[ts] = obj, in order", "record"),
    "append_ooo5": ("append(ts, obj), 5% out of order", "record"),
    "extend_pairs": ("extend(pairs), in order", "record"),
    "bulk_sorted": ("bulk_append(ndarray, list), sorted", "record"),
    "bulk_ooo5": ("bulk_append(ndarray, list), 5% out of order", "record"),
    "scan_full": ("full scan: for ts, obj in log[:]", "record"),
    "scan_next_batch": ("scan: it.next_batch(4096)", "record"),
    "scan_arrays": ("scan: log.arrays()", "record"),
    "to_numpy": ("export: log.to_numpy() -> int64 ts, float64 values", "record"),
    "to_dict": ("export: log.to_dict() -> {ts: obj}", "record"),
    "range10": ("range log[t1:t2] create + consume ~10 records", "query"),
    "point": ("point log[ts]", "query"),
    "count": ("count(t1, t2), log-uniform widths", "query"),
    "delete": ("delete(t1, t2) on a populated log", "delete"),
    "cutoff": ("cutoff(ts), advancing, on a populated log", "cutoff"),
    "span_sum": ("sum all timestamps over views() spans", "record"),
}
MAIN = list(WORKLOADS)
SWEEP = ["point", "range10", "count", "append_ts_obj", "bulk_sorted", "bulk_ooo5"]
INGEST = {
    "append_ts_obj",
    "append_obj",
    "setitem",
    "append_ooo5",
    "extend_pairs",
    "bulk_sorted",
    "bulk_ooo5",
}
# int64 sums of 10M timestamps near 1.7e12 would overflow; span_sum stays at N.

# What each contender runs where it is not the workload's title verbatim.
LABELS = {
    "append_ts_obj": {"skl": "skl.add((ts, obj))", "floor": "list.append(obj) in the same loop"},
    "append_obj": {"floor": "list.append(obj)"},
    "setitem": {"floor": "list.append(obj) in the same loop"},
    "append_ooo5": {"skl": "skl.add((ts, obj))", "floor": "list.append(obj) in the same loop"},
    "extend_pairs": {"skl": "skl.update(pairs)", "floor": "list.extend(pairs)"},
    "bulk_sorted": {
        "skl": "SortedKeyList(zip(ts.tolist(), objs))",
        "floor": "np.copy(ts) + list(objs)",
    },
    "bulk_ooo5": {
        "skl": "SortedKeyList(zip(ts.tolist(), objs))",
        "floor": "np.sort(ts) + list(objs)",
    },
    "scan_full": {"skl": "for ts, obj in skl", "floor": "for ts, obj in list_of_pairs"},
    "scan_next_batch": {"skl": "skl[i:i+4096] slices", "floor": "list[i:i+4096] slices"},
    "scan_arrays": {"floor": "np.copy(ts) + list(objs)"},
    "to_numpy": {"floor": "np.copy(ts) + np.array(objs, dtype=float64)"},
    "to_dict": {"floor": "dict(zip(ts_list, objs))"},
    "range10": {"skl": "skl.irange_key(t1, t2)", "floor": "searchsorted x2 + list slice"},
    "point": {"skl": "skl.irange_key(ts, ts)", "floor": "searchsorted left/right + list slice"},
    "count": {
        "ref": "len(log.range(t1, t2))",
        "skl": "bisect_key_left x2",
        "floor": "searchsorted x2",
    },
    "delete": {"skl": "del skl[bisect:bisect]"},
    "cutoff": {"skl": "del skl[:bisect]"},
    "span_sum": {
        "ref": "np.frombuffer(span.timestamps).sum()",
        "floor": "np.sum(ts) over one contiguous array",
    },
}

# Per-workload targets on timelog/contender (median ns/op ratio), at N.
RATIO_TARGETS = {
    "append_ts_obj": {"ref": 0.6, "floor": 3.0, "skl": 0.1},
    "append_obj": {"ref": 0.6, "floor": 3.0},
    "setitem": {"ref": 0.6, "floor": 3.0},
    "append_ooo5": {"ref": 0.6, "floor": 3.0, "skl": 0.1},
    "extend_pairs": {"ref": 0.5, "skl": 0.1},
    "bulk_sorted": {"ref": 0.15, "floor": 3.0, "skl": 0.1},
    "bulk_ooo5": {"ref": 0.3, "skl": 0.1},
    "scan_full": {"ref": 0.7},
    "range10": {"ref": 0.6, "skl": 1 / 3},
    "point": {"ref": 0.6, "skl": 1 / 3},
    "delete": {"ref": 0.2},
    "cutoff": {"ref": 0.6},
    "span_sum": {"ref": 1.0, "floor": 2.0},
    "to_numpy": {"ref": 0.2},
    "to_dict": {"ref": 0.2},
}
TARGET_TEXT = {
    ("append_ts_obj", "ref"): "append forms <= 0.6x reference",
    ("append_obj", "ref"): "append forms <= 0.6x reference",
    ("setitem", "ref"): "append forms <= 0.6x reference",
    ("append_ooo5", "ref"): "append forms <= 0.6x reference",
    ("append_ts_obj", "floor"): "append forms <= 3x list.append floor",
    ("append_obj", "floor"): "append forms <= 3x list.append floor",
    ("setitem", "floor"): "append forms <= 3x list.append floor",
    ("append_ooo5", "floor"): "append forms <= 3x list.append floor",
    ("extend_pairs", "ref"): "extend <= 0.5x reference",
    ("bulk_sorted", "ref"): "bulk_append sorted <= 0.15x reference",
    ("bulk_sorted", "floor"): "bulk_append sorted <= 3x floor",
    ("bulk_ooo5", "ref"): "bulk_append 5% ooo <= 0.3x reference",
    ("scan_full", "ref"): "full scan <= 0.7x reference",
    ("range10", "ref"): "range(10) <= 0.6x reference",
    ("point", "ref"): "point <= 0.6x reference",
    ("delete", "ref"): "delete <= 0.2x reference",
    ("cutoff", "ref"): "cutoff <= 0.6x reference",
    ("span_sum", "ref"): "span analysis >= 1x reference throughput",
    ("span_sum", "floor"): "span analysis >= 50% of np.sum floor throughput",
    ("to_numpy", "ref"): "to_numpy export <= 0.2x reference (issue 17)",
    ("to_dict", "ref"): "to_dict export <= 0.2x reference (issue 17)",
    ("range10", "skl"): ">= 3x faster than SortedKeyList (range)",
    ("point", "skl"): ">= 3x faster than SortedKeyList (point)",
}
for _w in INGEST:
    TARGET_TEXT.setdefault((_w, "skl"), ">= 10x faster ingest than SortedKeyList")

CONTENDER_NAMES = {
    "timelog": "timelog",
    "ref": "reference",
    "skl": "SortedKeyList",
    "floor": "floor",
}


# ------------------------------------------------------------------ the reference's venv


def _run_logged(cmd, log_path, env=None, timeout=900):
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        try:
            return subprocess.run(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout, cwd="/"
            ).returncode
        except subprocess.TimeoutExpired:
            log.write("\n*** timed out after %ds\n" % timeout)
            return -1


# Every object type created and freed, then the interpreter must still be
# clean: a broken dealloc leaves an error set that only surfaces later.
SMOKE = """
import gc, json, numpy as np, timelog
for _ in range(3):
    log = timelog.Timelog()
    log.append(1, "a"); log[2] = "b"; log.delete(0, 1); list(log[:]); log[2]
    log.close(); del log
    log = timelog.Timelog.for_bulk_ingest()
    if hasattr(log, "bulk_append"):
        log.bulk_append(np.arange(100, dtype=np.int64), list(range(100)))
    else:
        log.extend([(i, i) for i in range(100)])
    log.flush(); it = log[:]; it.next_batch(10); del it
    for span in log.views():
        np.frombuffer(span.timestamps, np.int64).sum(); span.objects()
    del span
    log.close(); del log
    gc.collect()
json.dumps({"ok": 1})
"""


def setup_ref(venv=REF_VENV, versions=REF_VERSIONS, log=print):
    """Create ``venv`` and build timelog-lib into it from its sdist.

    timelog-lib ships wheels only for CPython >= 3.12 and declares
    Requires-Python >= 3.12; this machine's Python is 3.11. Each release,
    newest first, is tried as it is (``--ignore-requires-python --no-binary``),
    then with benchmarks/peers/py311_compat.h force-included, which supplies
    the two CPython 3.12 functions and one type flag 1.2+ use (no timelog-lib
    source is changed). The first that builds and imports wins; every attempt
    is recorded in <venv>/REFERENCE.json.
    """
    base = getattr(sys, "_base_executable", sys.executable)
    venv = os.path.abspath(venv)
    if os.path.isdir(venv):
        shutil.rmtree(venv)
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    subprocess.run([base, "-m", "venv", venv], check=True)
    py = os.path.join(venv, "bin", "python")
    logs = os.path.join(os.path.dirname(venv), "logs")
    os.makedirs(logs, exist_ok=True)
    rc = _run_logged(
        [py, "-m", "pip", "install", "numpy==" + np.__version__], os.path.join(logs, "numpy.log")
    )
    if rc != 0:
        raise SystemExit("could not install numpy into %s (see %s)" % (venv, logs))
    attempts = []
    for version in versions:
        for method in ("as released", "py311_compat.h force-included"):
            env = dict(os.environ)
            env.pop("PYTHONPATH", None)
            if method != "as released":
                env["CFLAGS"] = (env.get("CFLAGS", "") + " -include " + COMPAT_H).strip()
            log_path = os.path.join(
                logs,
                "timelog-lib-%s-%s.log"
                % (version, "plain" if method == "as released" else "compat"),
            )
            log("== building timelog-lib %s (%s) into %s" % (version, method, venv))
            rc = _run_logged(
                [
                    py,
                    "-m",
                    "pip",
                    "install",
                    "-v",
                    "--no-cache-dir",
                    "--force-reinstall",
                    "--no-deps",
                    "--ignore-requires-python",
                    "--no-binary",
                    "timelog-lib",
                    "timelog-lib==" + version,
                ],
                log_path,
                env=env,
            )
            ok = (
                rc == 0
                and subprocess.run([py, "-c", SMOKE], cwd="/", capture_output=True).returncode == 0
            )
            attempts.append({"version": version, "method": method, "ok": ok, "log": log_path})
            log("   %s" % ("ok" if ok else "failed (see %s)" % log_path))
            if ok:
                info = {
                    "version": version,
                    "method": method,
                    "attempts": attempts,
                    "python": platform.python_version(),
                    "numpy": np.__version__,
                    "built": _dt.datetime.now().isoformat(timespec="seconds"),
                }
                with open(os.path.join(venv, "REFERENCE.json"), "w") as f:
                    json.dump(info, f, indent=2)
                return info
    raise SystemExit("no timelog-lib release would build here; attempts: %s" % attempts)


def ref_info(venv):
    p = os.path.join(venv, "REFERENCE.json")
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    return {}


# ------------------------------------------------------------------ data


def write_data(root, n):
    """The seeded streams and query sets for one N, as .npy files."""
    d = os.path.join(root, "n%d" % n)
    os.makedirs(d, exist_ok=True)
    in_order = data.in_order(n)
    late = data.late(n)
    srt = np.sort(late)
    rng = np.random.default_rng(data.SEED + 10)
    q = Q_QUERIES
    q_point = srt[rng.integers(0, n, q)]
    i = rng.integers(0, n - 10, q)
    t1, t2 = srt[i], srt[i + 10]
    t2 = np.maximum(t2, t1 + 1)
    q_range = np.stack([t1, t2], axis=1)
    q_count = np.array(data.random_ranges(srt, q), dtype=np.int64)
    n_del = max(100, min(2000, n // 500))
    lo, hi = int(srt[0]), int(srt[-1])
    a = rng.integers(lo, hi, n_del)
    q_delete = np.stack([a, a + rng.integers(1, 2000, n_del)], axis=1)
    q_cutoff = np.linspace(lo, int(srt[n // 2]), 2000).astype(np.int64)
    for name, arr in [
        ("in_order", in_order),
        ("late", late),
        ("q_point", q_point),
        ("q_range", q_range),
        ("q_count", q_count),
        ("q_delete", q_delete),
        ("q_cutoff", q_cutoff),
    ]:
        np.save(os.path.join(d, name + ".npy"), arr)


# ------------------------------------------------------------------ workers


class WorkerError(Exception):
    pass


class Worker:
    """One contender's worker process, speaking compare_worker's line protocol."""

    def __init__(self, name, python, data_root, timeout):
        self.name, self.python, self.data_root, self.timeout = name, python, data_root, timeout
        self.proc = None
        self.desc = None
        self.start()

    def _cmd(self, *extra):
        return [
            self.python,
            WORKER,
            "--impl",
            self.name,
            "--repo",
            REPO,
            "--data",
            self.data_root,
            *extra,
        ]

    @staticmethod
    def _env():
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # the reference must not see the repo
        return env

    def start(self):
        self.proc = subprocess.Popen(
            self._cmd(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd="/",
            env=self._env(),
        )
        self.desc = self._read(120)["ready"]

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            self.kill()
            raise WorkerError("%s: no answer within %ds" % (self.name, timeout))
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            raise WorkerError("%s: worker exited (rc=%s)" % (self.name, rc))
        return json.loads(line)

    def request(self, **req):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            return self._read(self.timeout)
        except (WorkerError, BrokenPipeError) as e:
            self.kill()
            return {"error": str(e)}

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(60)
            except Exception:
                self.kill()
        self.proc = None


def run_memory(name, python, data_root, n, timeout):
    """The memory figures of one contender, from a fresh worker process."""
    cmd = [python, WORKER, "--impl", name, "--repo", REPO, "--data", data_root, "--memory", str(n)]
    try:
        out = subprocess.run(
            cmd, capture_output=True, text=True, cwd="/", env=Worker._env(), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": "timed out after %ds" % timeout}
    if out.returncode != 0:
        return {"error": out.stderr[-4000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def pick_memory(reps):
    """The median (by peak) of repeated memory runs whose peak was measured."""
    good = [m for m in reps if "error" not in m and not m.get("peak_hidden")]
    if not good:
        bad = [m for m in reps if "error" not in m]
        m = dict(bad[0] if bad else reps[0])
    else:
        good.sort(key=lambda m: m["peak_delta"])
        m = dict(good[len(good) // 2])
    m.pop("desc", None)
    m["repeats"] = len(reps)
    m["peaks_measured"] = len(good)
    return m


# ------------------------------------------------------------------ measuring


def summarize(per_op):
    return {
        "median": statistics.median(per_op),
        "min": min(per_op),
        "max": max(per_op),
        "rounds": per_op,
    }


def run_workload(workers, workload, n, rounds, skip, say):
    """Interleaved rounds of one workload at one N; returns {contender: result}."""
    names = [w for w in workers if w not in skip]
    per_op = {w: [] for w in names}
    res = {w: {"na": skip[w]} for w in skip}
    t_start = time.time()
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)] if names else []
        for w in order:
            if w in res:  # n/a or failed: not asked again
                continue
            resp = workers[w].request(workload=workload, n=n, check=(r == 0))
            if "na" in resp:
                res[w] = {"na": resp["na"]}
            elif "error" in resp:
                res[w] = {"error": resp["error"]}
                say("   !! %s failed on %s n=%d:\n%s" % (w, workload, n, resp["error"]))
            else:
                per_op[w].append(resp["ns"] / resp["ops"])
                if r == 0:
                    res.setdefault("_checks", {})[w] = resp["check"]
                    res.setdefault("_ops", resp["ops"])
    checks = res.pop("_checks", {})
    ops = res.pop("_ops", None)
    for w in names:
        if w not in res and per_op[w]:
            res[w] = summarize(per_op[w])
            res[w]["check"] = checks.get(w)
    vals = {w: c for w, c in checks.items() if c is not None and "median" in res.get(w, {})}
    mismatch = len(set(json.dumps(v) for v in vals.values())) > 1
    return {
        "workload": workload,
        "n": n,
        "rounds": rounds,
        "ops": ops,
        "results": res,
        "check_mismatch": vals if mismatch else None,
        "wall_s": round(time.time() - t_start, 1),
    }


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    if ns < 1e3:
        return "%.0f ns" % ns if ns >= 10 else "%.2f ns" % ns
    if ns < 1e6:
        return "%.2f us" % (ns / 1e3)
    if ns < 1e9:
        return "%.2f ms" % (ns / 1e6)
    return "%.2f s" % (ns / 1e9)


# ------------------------------------------------------------------ targets


class Results:
    def __init__(self, rows, memory, n, sweep):
        self.rows, self.memory, self.n, self.sweep = rows, memory, n, sweep
        self.index = {(r["workload"], r["n"]): r for r in rows}

    def med(self, workload, n, who="timelog"):
        row = self.index.get((workload, n))
        if row is None:
            return None
        return row["results"].get(who, {}).get("median")


def _target(tid, text, value, op, threshold, detail, where=None):
    if value is None:
        status = "n/a"
    else:
        status = "MET" if (value <= threshold if op == "<=" else value >= threshold) else "MISSED"
    return {
        "id": tid,
        "text": text,
        "value": value,
        "op": op,
        "threshold": threshold,
        "status": status,
        "detail": detail,
        "workload": where,
    }


def evaluate_targets(R):
    n, lo, hi = R.n, min(R.sweep), max(R.sweep)
    out = []
    for w, per in RATIO_TARGETS.items():
        for who, thr in per.items():
            a, b = R.med(w, n), R.med(w, n, who)
            v = a / b if a is not None and b is not None else None
            out.append(
                _target(
                    "%s/%s" % (w, who),
                    TARGET_TEXT[(w, who)],
                    v,
                    "<=",
                    thr,
                    "%s: timelog/%s at N=%s" % (WORKLOADS[w][0], who, _n(n)),
                    w,
                )
            )
    full = R.med("scan_full", n)
    for w in ("scan_next_batch", "scan_arrays"):
        b = R.med(w, n)
        v = full / b if full and b else None
        out.append(
            _target(
                "%s/scan_full" % w,
                "next_batch/arrays >= 5x faster than per-record scan",
                v,
                ">=",
                5.0,
                "timelog scan_full / timelog %s at N=%s" % (w, _n(n)),
                w,
            )
        )

    def floor_ctx(w, x, y, inv=False):
        a, b = R.med(w, x, "floor"), R.med(w, y, "floor")
        if not (a and b):
            return ""
        return "; the floor's: %.3g" % ((b / a) if inv else (a / b))

    c_hi, c_lo = R.med("count", hi), R.med("count", lo)
    out.append(
        _target(
            "count/abs",
            "count at %s <= 2 us" % _n(hi),
            c_hi,
            "<=",
            2000.0,
            "timelog ns/query at N=%s" % _n(hi),
            "count",
        )
    )
    out.append(
        _target(
            "count/scale",
            "count at %s <= 2x its %s time" % (_n(hi), _n(lo)),
            c_hi / c_lo if c_hi and c_lo else None,
            "<=",
            2.0,
            "timelog count N=%s / N=%s%s" % (_n(hi), _n(lo), floor_ctx("count", hi, lo)),
            "count",
        )
    )
    for w in ("point", "range10"):
        a, b = R.med(w, hi), R.med(w, lo)
        out.append(
            _target(
                "%s/scale" % w,
                "%s at %s <= 1.5x its %s time" % (w, _n(hi), _n(lo)),
                a / b if a and b else None,
                "<=",
                1.5,
                "timelog %s N=%s / N=%s%s" % (w, _n(hi), _n(lo), floor_ctx(w, hi, lo)),
                w,
            )
        )
    for w in ("append_ts_obj", "bulk_sorted", "bulk_ooo5"):
        a, b = R.med(w, hi), R.med(w, n)
        out.append(
            _target(
                "%s/scale" % w,
                "ingest throughput at %s >= 0.8x %s (%s)" % (_n(hi), _n(n), w),
                b / a if a and b else None,
                ">=",
                0.8,
                "timelog records/s N=%s over N=%s%s"
                % (_n(hi), _n(n), floor_ctx(w, hi, n, inv=True)),
                w,
            )
        )
    m = R.memory.get("timelog", {}).get(n, {})
    eb = m.get("engine_bytes")
    out.append(
        _target(
            "memory/engine",
            "<= 17 engine bytes/record after flush+compact",
            eb / n if eb else None,
            "<=",
            17.0,
            "stats()['memory']['engine_bytes'] / N at N=%s" % _n(n),
            "memory",
        )
    )
    pk, fin = m.get("peak_delta"), m.get("final_delta")
    if m.get("peak_hidden"):
        pk = None
    out.append(
        _target(
            "memory/peak",
            "peak RSS during bulk ingest <= 2x final",
            pk / fin if pk and fin and fin > 0 else None,
            "<=",
            2.0,
            "RSS high-water growth / RSS growth after flush+compact+malloc_trim, N=%s" % _n(n),
            "memory",
        )
    )
    return out


def _n(n):
    for div, suf in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, suf)
    return str(n)


# ------------------------------------------------------------------ output


def print_tables(rows, contenders, targets, memory, n, say):
    tmap = {}
    for t in targets:
        if "/" in t["id"] and t["workload"] in WORKLOADS:
            w, who = t["id"].split("/", 1)
            tmap[(w, who)] = t
    hdr = "%-46s %5s" % ("workload", "N") + "".join(
        "  %-24s" % CONTENDER_NAMES[c] for c in contenders
    )
    say("")
    say("median per op (min-max); ratio = timelog time / contender time, below 1 = timelog faster")
    say(hdr)
    say("-" * len(hdr))
    for row in rows:
        res = row["results"]
        cells = []
        for c in contenders:
            r = res.get(c, {})
            if "median" in r:
                cells.append(
                    "%s (%s-%s)"
                    % (fmt_ns(r["median"]), fmt_ns(r["min"]), fmt_ns(r["max"]).split()[0])
                )
            elif "na" in r:
                cells.append("n/a")
            else:
                cells.append("ERROR" if "error" in r else "-")
        title = WORKLOADS[row["workload"]][0]
        say("%-46s %5s" % (title[:46], _n(row["n"])) + "".join("  %-24s" % c for c in cells))
        tl = res.get("timelog", {}).get("median")
        rat = []
        for c in contenders[1:]:
            m = res.get(c, {}).get("median")
            if tl and m:
                s = "%s %.3g" % (c, tl / m)
                t = tmap.get((row["workload"], c)) if row["n"] == n else None
                if t:
                    s += " [%s %.3g %s]" % (t["op"], t["threshold"], t["status"])
                rat.append(s)
        if rat:
            say("%52s ratios: %s" % ("", "; ".join(rat)))
        if row.get("check_mismatch"):
            say("%52s !! CHECK MISMATCH: %s" % ("", row["check_mismatch"]))
    say("")
    say("memory (bulk_append of the 5%-late stream, fresh process):")
    for c, per_n in memory.items():
        for nn, m in per_n.items():
            if "error" in m:
                say("  %-8s N=%s ERROR %s" % (c, _n(nn), m["error"][-300:]))
                continue
            eb = m.get("engine_bytes")
            say(
                "  %-8s N=%-4s RSS final %6.1f B/rec, peak %6.1f B/rec%s%s"
                % (
                    c,
                    _n(nn),
                    m["final_delta"] / nn,
                    m["peak_delta"] / nn,
                    ", engine %.2f B/rec (engine peak %.2f)"
                    % (eb / nn, m["engine_peak_bytes"] / nn)
                    if eb
                    else "",
                    " (peak hidden)" if m.get("peak_hidden") else "",
                )
            )
    say("")
    say("targets:")
    for t in targets:
        v = "n/a" if t["value"] is None else "%.3g" % t["value"]
        say(
            "  %-7s %-58s %8s %s %-6.3g  (%s)"
            % (t["status"], t["text"], v, t["op"], t["threshold"], t["detail"])
        )
    met = sum(t["status"] == "MET" for t in targets)
    missed = sum(t["status"] == "MISSED" for t in targets)
    say("  %d MET, %d MISSED, %d n/a" % (met, missed, len(targets) - met - missed))


# ------------------------------------------------------------------ machine


def machine_info():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "kernel": platform.release(),
        "platform": platform.platform(),
    }


def loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def git_info():
    def git(*a):
        try:
            return subprocess.run(
                ["git", *a], cwd=REPO, capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except Exception:
            return None

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "csrc", "timelog")),
    }


# ------------------------------------------------------------------ main


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--quick", action="store_true", help="development run: N=100k, sweep 10k/100k/1M, 3 rounds"
    )
    ap.add_argument("-n", type=int, default=None, help="N for the main workloads (1M)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds per workload (5)")
    ap.add_argument(
        "--rounds-big", type=int, default=3, help="rounds at the largest sweep size (3)"
    )
    ap.add_argument(
        "--sweep",
        default=None,
        help="comma-separated sizes for the scaling sweeps (100000,1000000,10000000)",
    )
    ap.add_argument("--only", default=None, help="comma-separated workloads to run")
    ap.add_argument("--contenders", default="timelog,ref,skl,floor")
    ap.add_argument(
        "--ref-venv",
        default=REF_VENV,
        help="venv holding timelog-lib (built on first use if it is the default)",
    )
    ap.add_argument(
        "--setup-ref", action="store_true", help="(re)build the reference venv, then exit"
    )
    ap.add_argument(
        "--ref-versions",
        default=",".join(REF_VERSIONS),
        help="timelog-lib releases --setup-ref tries, in order",
    )
    ap.add_argument(
        "--skl-max-ingest",
        type=int,
        default=1_000_000,
        help="largest N at which SortedKeyList runs the ingest sweeps",
    )
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument(
        "--memory-repeats",
        type=int,
        default=3,
        help="fresh-process memory runs at N (median peak is kept)",
    )
    ap.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to this long for the 1-min load average to fall below --idle-load",
    )
    ap.add_argument("--idle-load", type=float, default=1.0)
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per request")
    ap.add_argument("--out", default=None, help="JSON path (build/bench/compare-<date>.json)")
    args = ap.parse_args(argv)

    log_lines = []

    def say(s=""):
        print(s, flush=True)
        log_lines.append(s)

    if args.setup_ref:
        setup_ref(args.ref_venv, args.ref_versions.split(","), log=say)
        return 0

    n = args.n or (100_000 if args.quick else 1_000_000)
    rounds = args.rounds or (3 if args.quick else 5)
    if args.sweep:
        sweep = sorted(int(s) for s in args.sweep.split(","))
    else:
        sweep = [n // 10, n, n * 10]
    if n not in sweep:
        sweep = sorted(set(sweep) | {n})
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    partial = bool(args.only) or sorted(contenders) != sorted(["timelog", "ref", "skl", "floor"])
    if contenders[0] != "timelog":
        raise SystemExit("timelog must be the first contender")
    only = set(args.only.split(",")) if args.only else None
    unknown = (only or set()) - set(WORKLOADS) - {"memory"}
    if unknown:
        raise SystemExit("unknown workloads: %s" % ", ".join(sorted(unknown)))

    args.ref_venv = os.path.abspath(args.ref_venv)
    pythons = {"timelog": sys.executable, "skl": sys.executable, "floor": sys.executable}
    if "ref" in contenders:
        ref_py = os.path.join(args.ref_venv, "bin", "python")
        ok = (
            os.path.exists(ref_py)
            and subprocess.run(
                [ref_py, "-c", "import timelog"], cwd="/", capture_output=True
            ).returncode
            == 0
        )
        if not ok:
            if os.path.abspath(args.ref_venv) != REF_VENV:
                raise SystemExit("no timelog-lib in %s" % args.ref_venv)
            setup_ref(args.ref_venv, log=say)
        pythons["ref"] = ref_py

    # plan: the main workloads at N, then the sweeps at the other sizes
    plan = [(w, n, rounds) for w in MAIN]
    for s in sweep:
        if s != n:
            plan += [
                (w, s, args.rounds_big if s == max(sweep) and s > n else rounds) for w in SWEEP
            ]
    if only:
        plan = [p for p in plan if p[0] in only]
    plan.sort(key=lambda p: (p[1] != n, p[1]))  # N first, then by size

    if args.wait_idle > 0:
        deadline = time.time() + args.wait_idle
        while (loadavg() or 0) >= args.idle_load and time.time() < deadline:
            say("== waiting for the machine to go idle (load %.2f)" % loadavg())
            time.sleep(30)
    started = _dt.datetime.now()
    load_start = loadavg()
    data_root = os.path.join(OUT_DIR, "data")
    sizes = sorted({p[1] for p in plan})
    for s in sizes:
        say("== generating data, N=%s" % _n(s))
        write_data(data_root, s)

    os.makedirs(OUT_DIR, exist_ok=True)
    suffix = "-quick" if args.quick else ("-partial" if partial else "")
    out = args.out or os.path.join(
        OUT_DIR, "compare-%s%s.json" % (started.strftime("%Y-%m-%dT%H%M%S"), suffix)
    )
    ref = ref_info(args.ref_venv) if "ref" in contenders else {}
    descs = {}
    rows, memory, targets = [], {}, []

    def save(complete):
        """Written after every workload, so that a crash keeps what was measured."""
        finished = _dt.datetime.now()
        meta = {
            "date": started.isoformat(timespec="seconds"),
            "duration_s": round((finished - started).total_seconds(), 1),
            "complete": complete,
            "quick": args.quick,
            "partial": partial,
            "n": n,
            "rounds": rounds,
            "rounds_big": args.rounds_big,
            "sweep": sweep,
            "queries": Q_QUERIES,
            "batch": BATCH,
            "machine": machine_info(),
            "loadavg_start": load_start,
            "loadavg_end": loadavg(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "timelog": {"version": descs.get("timelog", {}).get("version"), **git_info()},
            "timelog_lib": {
                "version": descs.get("ref", {}).get("version"),
                "method": ref.get("method"),
                "venv": args.ref_venv,
                "attempts": ref.get("attempts"),
            },
            "sortedcontainers": descs.get("skl", {}).get("version"),
            "contenders": contenders,
            "workers": descs,
            "method": "interleaved rounds (contender order rotates per round); a round "
            "times one batch of ops and divides; cyclic GC disabled while "
            "timed; median over rounds, min-max shown",
        }
        doc = {
            "meta": meta,
            "workloads": {
                k: {"title": t, "per": u, "labels": LABELS.get(k, {})}
                for k, (t, u) in WORKLOADS.items()
            },
            "rows": rows,
            "memory": {c: {str(k): v for k, v in m.items()} for c, m in memory.items()},
            "targets": targets,
        }
        tmp = out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        os.replace(tmp, out)
        return meta

    workers = {}
    try:
        for c in contenders:
            workers[c] = Worker(c, pythons[c], data_root, args.timeout)
            d = workers[c].desc
            descs[c] = d
            say(
                "== %-8s %s %s (python %s, numpy %s)"
                % (
                    c,
                    d.get("version") or "",
                    d.get("module") or d.get("executable"),
                    d["python"],
                    d["numpy"],
                )
            )
        for workload, s, r in plan:
            skip = {}
            if "skl" in workers and workload in INGEST and s > args.skl_max_ingest:
                skip["skl"] = "skipped above N=%s (too slow)" % _n(args.skl_max_ingest)
            say("-- %s, N=%s, %d rounds" % (workload, _n(s), r))
            row = run_workload(workers, workload, s, r, skip, say)
            rows.append(row)
            say(
                "   "
                + "  ".join(
                    "%s=%s" % (c, fmt_ns(row["results"].get(c, {}).get("median")))
                    for c in contenders
                )
                + "  (%.0fs)" % row["wall_s"]
            )
            if row["check_mismatch"]:
                say("   !! CHECK MISMATCH %s" % row["check_mismatch"])
            save(False)
    finally:
        for w in workers.values():
            w.close()

    if not args.no_memory and (not only or "memory" in only):
        mem_sizes = [n] + ([max(sweep)] if max(sweep) > n else [])
        for s in mem_sizes:
            if not os.path.exists(os.path.join(data_root, "n%d" % s, "late.npy")):
                write_data(data_root, s)
        for c in contenders:
            memory[c] = {}
            for s in mem_sizes:
                if c == "skl" and s > args.skl_max_ingest:
                    continue
                say("== memory %s N=%s" % (c, _n(s)))
                reps = [
                    run_memory(c, pythons[c], data_root, s, args.timeout)
                    for _ in range(args.memory_repeats if s == n else 1)
                ]
                memory[c][s] = pick_memory(reps)
        save(False)

    R = Results(rows, memory, n, sweep)
    targets[:] = evaluate_targets(R)
    print_tables(rows, contenders, targets, memory, n, say)
    meta = save(True)
    say("")
    say("wrote %s (%.0fs)" % (out, meta["duration_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Smoke test of an INSTALLED timelog (run by `make package-check`).

Run from a directory outside the repository, with the interpreter of a fresh
venv into which the sdist or the wheel was installed; it must import that
installation, never the work tree. Prints "smoke ok" on success.
"""

import importlib.metadata
import pathlib
import sys

import numpy as np

import timelog
from timelog import Timelog

pkg = pathlib.Path(timelog.__file__).resolve().parent
prefix = pathlib.Path(sys.prefix).resolve()
assert prefix in pkg.parents, "imported %s, not the installation in %s" % (pkg, prefix)
assert importlib.metadata.version("timelog") == timelog.__version__
for shipped in ("py.typed", "_core.pyi", "_core.pxd"):
    assert (pkg / shipped).is_file(), "%s is missing from the installed package" % shipped

with Timelog(time_unit="ms", maintenance="disabled") as log:
    log.append({"event": "boot"})  # wall clock
    log[10] = "A"
    del log[5:15]
    log[10] = "B"
    assert log[10] == ["B"]
    log.extend([(3, "c"), (1, "a")])
    log.bulk_append(np.arange(20, 30, dtype=np.int64), [str(i) for i in range(10)])
    assert [t for t, _ in log[0:22]] == [1, 3, 10, 20, 21]
    log.flush()
    spans = list(log.views(20, 30))
    ts = np.concatenate([s.timestamps for s in spans])
    assert ts.tolist() == list(range(20, 30))
    assert not spans[0].timestamps.flags.writeable
    assert log.count(20, 30) == 10
    print(repr(log))
assert log.closed

with Timelog.for_streaming() as bg:  # the worker thread starts and stops
    bg.extend((t, t) for t in range(10_000))
    assert len(bg) == 10_000

print("smoke ok")

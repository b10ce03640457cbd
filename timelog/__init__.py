"""timelog: an in-memory, time-indexed multimap for Python, with a C17 engine.

A :class:`Timelog` maps signed 64-bit integer timestamps to Python objects
(duplicates kept, identity preserved). Every range is half-open ``[t1, t2)``,
reads are snapshot-consistent, out-of-order writes are normal input, and
deletes are sequenced tombstones: a delete hides what was written before it,
never what is written after.

>>> from timelog import Timelog
>>> log = Timelog(time_unit="ms", maintenance="disabled")
>>> log[10] = "A"
>>> del log[5:15]          # delete [5, 15)
>>> log[10] = "B"          # a later insert at the same timestamp
>>> log[10]
['B']
>>> log.extend([(3, "x"), (1, "y"), (12, "z")])
>>> list(log[0:12])
[(1, 'y'), (3, 'x'), (10, 'B')]
>>> log.flush()            # publish to zero-copy views
>>> [span.timestamps.tolist() for span in log.views()]
[[1, 3, 10, 12]]
>>> log.close()
"""


def _refuse_subinterpreters() -> None:
    """Fail the import, clearly, in any interpreter but the main one.

    timelog._core is declared ``subinterpreters_compatible = no`` (see its
    header and docs/platforms.md): Cython keeps the module's state in C
    globals, one copy per process, and NumPy, which it needs, does not
    support subinterpreters either. CPython itself refuses such modules only
    in isolated (own-GIL) subinterpreters, and then with a message naming
    whichever extension it met first; this check refuses every
    subinterpreter, with one message, before anything is loaded.
    """
    try:
        import _interpreters as interpreters  # CPython 3.13+
    except ImportError:
        try:
            import _xxsubinterpreters as interpreters  # CPython 3.8-3.12
        except ImportError:  # pragma: no cover - an interpreter without either
            return
    current, main = interpreters.get_current(), interpreters.get_main()
    if current != main:
        raise ImportError(
            "timelog does not support subinterpreters: import it in the main "
            "interpreter only (its compiled module keeps one state per process, "
            "and NumPy does not support subinterpreters); see docs/platforms.md"
        )


_refuse_subinterpreters()
del _refuse_subinterpreters

from collections.abc import Iterator as _Iterator
from typing import Any as _Any

from timelog._core import (
    PageSpan,
    PageSpanIter,
    PageSpanObjectsView,
    Timelog,
    TimelogBusyError,
    TimelogError,
    TimelogIter,
)

__version__ = "0.1.0"

# Type aliases of the reference design, kept so that annotations written for
# it still resolve: one record, an iterator of records, a batch of records.
Record = tuple[int, _Any]
RecordIter = _Iterator[Record]
RecordBatch = list[Record]

__all__ = [
    "PageSpan",
    "PageSpanIter",
    "PageSpanObjectsView",
    "Record",
    "RecordBatch",
    "RecordIter",
    "Timelog",
    "TimelogBusyError",
    "TimelogError",
    "TimelogIter",
    "__version__",
]

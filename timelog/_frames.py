"""Arrow, pyarrow and Polars hand-off of a time range (issue 18, item 2).

``Timelog.arrow()`` returns an :class:`ArrowRange`; ``to_arrow()`` and
``to_polars()`` read one through pyarrow or Polars. The export itself is the
Arrow PyCapsule stream of timelog/_arrow.pxi; payload columns are described
in timelog/_arrow_payload.py. pyarrow and Polars are imported lazily, only
here, so neither is a dependency of timelog.
"""

import importlib

from timelog import _arrow_payload


def _require(module, what):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            "Timelog.%s() needs %s, which is not installed; install it "
            "with: pip install %s" % (what, module, module)
        ) from None


class ArrowRange:
    """``[t1, t2)`` of a log as an Arrow stream source (``__arrow_c_stream__``).

    Made by :meth:`Timelog.arrow`. Each ``__arrow_c_stream__`` call reads the
    log as it is then (one snapshot per call), so the object can be handed to
    several consumers. ``payload`` picks the payload columns: ``"auto"``,
    ``"columns"``, ``"pickle"`` or ``None`` (timestamps only, no pyarrow
    needed).
    """

    __slots__ = ("_log", "_payload", "_t1", "_t2")

    def __init__(self, log, t1, t2, payload):
        _arrow_payload.check_mode(payload)  # a bad value or a missing pyarrow: now
        self._log = log
        self._t1 = t1
        self._t2 = t2
        self._payload = payload

    def __arrow_c_stream__(self, requested_schema=None):
        from timelog import _core

        return _core._arrow_stream(self._log, self._t1, self._t2, self._payload, requested_schema)

    def __repr__(self):
        return "<ArrowRange [%r, %r) payload=%r>" % (self._t1, self._t2, self._payload)

    def __reduce__(self):
        raise TypeError(
            "ArrowRange objects cannot be pickled: pickle the log, or its to_arrow() table"
        )


def to_arrow(log, t1=None, t2=None, *, payload="auto"):
    """``log.to_arrow()``: a pyarrow.Table of ``[t1, t2)``."""
    pa = _require("pyarrow", "to_arrow")
    return pa.RecordBatchReader.from_stream(ArrowRange(log, t1, t2, payload)).read_all()


def to_polars(log, t1=None, t2=None, *, payload="auto"):
    """``log.to_polars()``: a polars.DataFrame of ``[t1, t2)``."""
    pl = _require("polars", "to_polars")
    return pl.DataFrame(ArrowRange(log, t1, t2, payload))

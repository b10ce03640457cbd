"""Payload columns of the Arrow export (timelog/_arrow.pxi), built through pyarrow.

The engine stores arbitrary Python objects; Arrow needs one column type. The
``payload=`` option of ``Timelog.arrow()`` / ``to_arrow()`` / ``to_polars()``
chooses how they become columns:

- ``"auto"`` (the default, and what ``__arrow_c_stream__`` uses): one column
  ``value`` of the type pyarrow infers for the whole range. Numbers, strings,
  bytes, bools and ``None`` (null) map to that type; dicts of such values
  (nested dicts too) map to a struct. Anything else is a TypeError naming
  the row and pointing at ``payload="pickle"``.
- ``"columns"``: dict payloads as separate columns, one per key (a ``None``
  payload is null in every column).
- ``"pickle"``: any picklable payload, pickled into a ``binary`` column.
- ``None``: no payload column, timestamps only; needs no pyarrow.

pyarrow is imported lazily, and only for a payload column.
"""

import importlib
import pickle

import numpy as np

MODES = ("auto", "columns", "pickle", None)

_SCALARS = (bool, int, float, str, bytes, np.bool_, np.number)


class PayloadRowError(Exception):
    """Raised by convert(): the export adds the row's timestamp, then raises
    ``error(ts)`` (a TypeError) instead."""

    def __init__(self, row, message):
        super().__init__(row, message)
        self.row = row
        self.message = message

    def error(self, ts):
        return TypeError("payload of row %d (ts=%s) %s" % (self.row, ts, self.message))


def require_pyarrow():
    try:
        # importlib, not an import statement: the failure is reported below,
        # and a None left in sys.modules (a blocked import) raises too.
        return importlib.import_module("pyarrow")
    except ImportError:
        raise ImportError(
            "exporting the payloads to Arrow needs pyarrow, which is not installed; "
            "install it (pip install pyarrow), or export the timestamps alone, "
            "which needs no pyarrow: log.arrow(t1, t2, payload=None)"
        ) from None


def check_mode(payload):
    """The mode for ``payload=``; imports pyarrow when the mode needs it."""
    if not any(payload is m or (isinstance(payload, str) and payload == m) for m in MODES):
        raise ValueError(
            "payload=%r: expected 'auto' (a column of the type pyarrow "
            "infers), 'columns' (dict keys as columns), 'pickle' (a binary "
            "column of pickles) or None (timestamps only)" % (payload,)
        )
    if payload is not None:
        require_pyarrow()
    return payload


def _plain(x):
    """Whether x is a value the 'auto' mode takes (a scalar, None, or a dict
    of such values with str keys)."""
    if x is None or isinstance(x, _SCALARS):
        return True
    if type(x) is dict:
        return all(type(k) is str and _plain(v) for k, v in x.items())
    return False


def _type_ok(pa, t):
    if (
        pa.types.is_null(t)
        or pa.types.is_boolean(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    ):
        return True
    if pa.types.is_struct(t):
        return all(_type_ok(pa, t.field(i).type) for i in range(t.num_fields))
    return False


_PICKLE_HINT = "; pass payload='pickle' to store every payload pickled in a binary column"


def _first_failing(pa, objs):
    """The first row at which pa.array() of the prefix fails (binary search:
    only on the error path)."""
    lo, hi = 0, len(objs)  # pa.array(objs[:lo]) works, objs[:hi] fails
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pa.array(objs[:mid])
            lo = mid
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            hi = mid
    return hi - 1


def _infer(pa, objs):
    try:
        arr = pa.array(objs)
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as e:
        for i, x in enumerate(objs):
            if not _plain(x):
                raise PayloadRowError(
                    i,
                    "is a %s, which has no Arrow column type%s" % (type(x).__name__, _PICKLE_HINT),
                ) from None
        row = _first_failing(pa, objs)
        raise PayloadRowError(
            row,
            "(%r) does not fit the column type of the rows "
            "before it (%s)%s" % (objs[row], e, _PICKLE_HINT),
        ) from None
    if isinstance(arr, pa.ChunkedArray):  # over 2 GiB of strings
        arr = arr.combine_chunks()
    if not _type_ok(pa, arr.type):
        for i, x in enumerate(objs):
            if not _plain(x):
                raise PayloadRowError(
                    i,
                    "is a %s, which has no Arrow column type%s" % (type(x).__name__, _PICKLE_HINT),
                )
        raise PayloadRowError(
            0, "gives the Arrow type %s, which is not exported%s" % (arr.type, _PICKLE_HINT)
        )
    return arr


def pickle_field(arrow_type):
    """The field of a payload="pickle" column: marked in its metadata
    (timelog/_arrow_in.py reads the mark)."""
    from timelog._arrow_in import PICKLE_KEY, PICKLE_VALUE

    return require_pyarrow().field("value", arrow_type, metadata={PICKLE_KEY: PICKLE_VALUE})


def convert(objs, mode):
    """``[(column name, pyarrow.Array)]`` of the payloads ``objs`` under ``mode``."""
    pa = require_pyarrow()
    if mode == "pickle":
        out = []
        for i, x in enumerate(objs):
            try:
                out.append(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as e:
                raise PayloadRowError(
                    i, "cannot be pickled (%s: %s)" % (type(e).__name__, e)
                ) from None
        return [("value", pa.array(out, type=pa.binary()))]
    arr = _infer(pa, objs)
    if mode == "auto":
        return [("value", arr)]
    # "columns": the struct's fields, with a None payload null in each.
    if pa.types.is_null(arr.type):
        return []
    if not pa.types.is_struct(arr.type):
        for i, x in enumerate(objs):
            if x is not None and type(x) is not dict:
                raise PayloadRowError(
                    i,
                    "is a %s: payload='columns' needs dict payloads "
                    "(or None); use payload='auto' for a 'value' column" % (type(x).__name__,),
                )
    names = [arr.type.field(i).name for i in range(arr.type.num_fields)]
    if "ts" in names:
        raise ValueError(
            "payload='columns': a payload key is named 'ts', which is the "
            "timestamp column; use payload='auto' (a 'value' struct column)"
        )
    return list(zip(names, arr.flatten()))

"""Arrow in (issue 18, item 3): Arrow data into a log.

The one place where Arrow columns become what ``bulk_append`` takes:

- :func:`timestamp_column` turns an Arrow timestamp or integer column into a
  NumPy array (``datetime64[unit]`` or an integer dtype), zero-copy for one
  chunk without nulls. The conversion into the log's ``time_unit`` is then
  bulk_append's own (timelog/_timeconv.pxi: exact integer arithmetic,
  coarser units multiplied with an overflow check, finer units floored), so
  Arrow, NumPy and pandas input convert identically. bulk_append calls it
  for timestamps with ``__arrow_c_array__`` / ``__arrow_c_stream__``.
- :func:`read_table` reads anything with the PyCapsule interface (pyarrow,
  Polars, DuckDB, pandas) as a pyarrow.Table.
- :func:`payloads` turns payload columns into the stored Python objects.
- :func:`from_arrow` is ``Timelog.from_arrow``; ``Timelog.load``
  (timelog/_save_load.py) uses the same pieces.

pyarrow is imported lazily, so ``import timelog`` never needs it.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

# Field metadata the export puts on a payload="pickle" column
# (timelog/_arrow.pxi), so that the column is known to hold pickles.
PICKLE_KEY = b"timelog.payload"
PICKLE_VALUE = b"pickle"
_INT64_MIN = -(2**63)


def require_pyarrow(what: str) -> Any:
    try:
        # importlib rather than an import statement: a None left in
        # sys.modules (a blocked import) raises ImportError here too.
        return importlib.import_module("pyarrow")
    except ImportError:
        raise ImportError(
            "%s needs pyarrow, which is not installed; install it with: pip install pyarrow"
            % (what,)
        ) from None


def have_pyarrow() -> bool:
    try:
        importlib.import_module("pyarrow")
    except ImportError:
        return False
    return True


def _as_arrow_column(pa: Any, x: Any, name: str, allow_struct: bool = False) -> Any:
    """An Array or ChunkedArray of x (a pyarrow array, or anything with
    ``__arrow_c_array__`` / ``__arrow_c_stream__``)."""
    if isinstance(x, (pa.Array, pa.ChunkedArray)):
        col = x
    elif isinstance(x, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        raise TypeError(
            "%s is a pyarrow %s (a table), not one column: pass one column, e.g. "
            "table['ts'], or use Timelog.from_arrow(table, ts='ts', value=...)"
            % (name, type(x).__name__)
        )
    else:
        try:
            if hasattr(type(x), "__arrow_c_array__"):
                col = pa.array(x)
            else:
                col = pa.chunked_array(x)
        except (pa.ArrowException, TypeError, ValueError) as e:
            raise TypeError(
                "%s: cannot read %s as an Arrow column (%s)" % (name, type(x).__name__, e)
            ) from None
    if pa.types.is_struct(col.type) and not allow_struct:
        raise TypeError(
            "%s is a table (Arrow struct %s), not one column: pass one column, "
            "or use Timelog.from_arrow(data, ts=..., value=...)" % (name, col.type)
        )
    return col


def timestamp_column(
    x: Any, name: str = "bulk_append(): timestamps", unit: str | None = None
) -> np.ndarray:
    """An Arrow timestamp or integer column as a 1-D NumPy array.

    ``timestamp[unit, tz]`` (any unit; the values are UTC instants whatever
    the zone) becomes ``datetime64[unit]``, integers keep their dtype; both
    without a copy for one chunk with no nulls. A null is a ValueError
    naming the first null row; any other type a TypeError naming it.
    """
    pa = require_pyarrow("Arrow timestamps")
    col = _as_arrow_column(pa, x, name)
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)  # a dictionary-encoded column: decoded
        t = col.type
    if not (pa.types.is_timestamp(t) or pa.types.is_integer(t)):
        hint = ""
        if pa.types.is_date(t):
            hint = (
                " (a date column: cast it to a timestamp first, e.g. col.cast(pa.timestamp('s')))"
            )
        raise TypeError(
            "%s: Arrow column of type %s is not a timestamp; expected an Arrow "
            "timestamp (any unit, with or without a time zone) or integers "
            "in the log's time_unit%s; nothing was stored" % (name, t, hint)
        )
    if col.null_count:
        nulls = col.is_null()
        if isinstance(nulls, pa.ChunkedArray):
            nulls = nulls.combine_chunks()
        first = int(np.flatnonzero(nulls.to_numpy(zero_copy_only=False))[0])
        raise ValueError(
            "%s: row %d is null (%d of %d rows are null); a timestamp cannot be "
            "null: drop or fill those rows first (pyarrow: table.filter("
            "pyarrow.compute.is_valid(col)); Polars: df.drop_nulls(col)); "
            "nothing was stored" % (name, first, col.null_count, len(col))
        )
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 1:
            col = col.chunk(0)
        elif col.num_chunks == 0:
            col = pa.array([], type=t)
    if isinstance(col, pa.ChunkedArray):
        out = col.to_numpy()  # several chunks: one copy, concatenated
    else:
        out = col.to_numpy(zero_copy_only=True)
    if pa.types.is_timestamp(t):
        if out.dtype != np.dtype("M8[%s]" % (t.unit,)):
            out = out.astype("M8[%s]" % (t.unit,))  # not expected: pyarrow keeps the unit
        if t.unit == unit:
            # Already in the log's unit: plain int64, so that -2**63 (a valid
            # timestamp; Arrow marks nulls apart) is not taken for NumPy's NaT.
            out = out.view(np.int64)
        elif len(out):
            # The unit conversion goes through datetime64, where -2**63 is NaT:
            # say so here rather than let it surface as a "NaT" the user's
            # column does not hold.
            raw = out.view(np.int64)
            if raw.min() == _INT64_MIN:
                row = int(np.argmin(raw))
                raise ValueError(
                    "%s: row %d holds -2**63 %s, which the conversion into the "
                    "log's time_unit %r cannot carry (NumPy reads that value as "
                    "NaT); store it in a log whose time_unit is %r, or drop that "
                    "row; nothing was stored" % (name, row, t.unit, unit, t.unit)
                )
    return out


def read_table(data: Any) -> Any:
    """data as a pyarrow.Table: a pyarrow Table or RecordBatch, or anything
    with ``__arrow_c_stream__`` (a Polars or pandas DataFrame, a DuckDB
    result, a RecordBatchReader) or ``__arrow_c_array__`` (a record batch)."""
    pa = require_pyarrow("Timelog.from_arrow()")
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    kind = type(data)
    if kind.__module__.startswith("pandas.") and hasattr(data, "columns"):
        # A pandas DataFrame (older pandas has no __arrow_c_stream__); its
        # index comes along as a column, as log.to_pandas()'s "ts" does.
        return pa.table(data)
    if not (hasattr(kind, "__arrow_c_stream__") or hasattr(kind, "__arrow_c_array__")):
        raise TypeError(
            "Timelog.from_arrow(): expected Arrow data (a pyarrow Table or "
            "RecordBatch, a Polars or pandas DataFrame, a DuckDB result: anything "
            "with __arrow_c_stream__ or __arrow_c_array__), got %s" % (kind.__name__,)
        )
    try:
        if hasattr(kind, "__arrow_c_stream__"):
            return pa.table(data)
        return pa.Table.from_batches([pa.record_batch(data)])
    except (pa.ArrowException, TypeError, ValueError) as e:
        raise TypeError(
            "Timelog.from_arrow(): cannot read %s as a table (%s); a single "
            "column goes to bulk_append(timestamps, objects) instead" % (kind.__name__, e)
        ) from None


def is_pickle_field(field: Any) -> bool:
    meta = field.metadata or {}
    return meta.get(PICKLE_KEY) == PICKLE_VALUE


def column_objects(pa: Any, col: Any, unpickle: bool = False, name: str = "value") -> list:
    """The Python objects of one payload column (nulls are None)."""
    if unpickle:
        if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type)):
            raise TypeError(
                "unpickle=True: column %r is %s, not binary (pickles)" % (name, col.type)
            )
        out = []
        for i, b in enumerate(col.to_pylist()):
            if b is None:
                out.append(None)
                continue
            try:
                out.append(pickle.loads(b))
            except Exception as e:
                raise ValueError(
                    "column %r, row %d: not a valid pickle (%s: %s); nothing was stored"
                    % (name, i, type(e).__name__, e)
                ) from None
        return out
    t = col.type
    if col.null_count == 0 and (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
    ):
        # NumPy's tolist() is several times faster than to_pylist() and
        # gives the same Python ints, floats and bools.
        return col.to_numpy(zero_copy_only=False).tolist()
    return col.to_pylist()


def objects_column(x: Any) -> list:
    """bulk_append()'s objects given as an Arrow column: its Python values."""
    pa = require_pyarrow("Arrow objects")
    col = _as_arrow_column(pa, x, "bulk_append(): objects", allow_struct=True)
    return column_objects(pa, col, False, "objects")


def payloads(
    table: Any, value: str | Sequence[str] | None, unpickle: bool | None, ts: str
) -> list | None:
    """The payloads of the table's rows (None: every payload is None)."""
    pa = require_pyarrow("Timelog.from_arrow()")
    if value is None:
        return None
    names = table.column_names
    if isinstance(value, str):
        cols = [value]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        cols = list(value)
        if not cols:
            raise ValueError("value=[]: name at least one column, or pass value=None")
    else:
        raise TypeError(
            "value must be a column name, a list of column names or None, got %r" % (value,)
        )
    for c in cols:
        if c not in names:
            raise ValueError(
                "no column %r (columns: %s); pass value= the payload column, a list "
                "of columns (each payload a dict), or None (payloads None)"
                % (c, ", ".join(map(repr, names)))
            )
        if c == ts:
            raise ValueError(
                "column %r is the timestamp column (ts=%r); it cannot be a payload" % (c, ts)
            )
        if names.count(c) > 1:
            raise ValueError("the table has %d columns named %r" % (names.count(c), c))
    fields = {c: table.schema.field(c) for c in cols}
    marked = [c for c in cols if is_pickle_field(fields[c])]
    if marked and unpickle is None:
        raise ValueError(
            "column %r holds pickled payloads (written with payload='pickle'); "
            "pass unpickle=True to restore the objects (unpickling runs code: only "
            "for data you trust) or unpickle=False to store the bytes" % (marked[0],)
        )
    lists = [column_objects(pa, table.column(c), bool(unpickle), c) for c in cols]
    if isinstance(value, str):
        return lists[0]
    return [dict(zip(cols, row)) for row in zip(*lists)]


def _unit_of(pa: Any, table: Any, ts: str) -> str | None:
    if ts not in table.column_names:
        raise ValueError(
            "no timestamp column %r (columns: %s); pass ts= the name of the "
            "timestamp column" % (ts, ", ".join(map(repr, table.column_names)))
        )
    t = table.schema.field(ts).type
    return t.unit if pa.types.is_timestamp(t) else None


def store(log: Any, ts: np.ndarray, objs: list | None, what: str) -> None:
    """One bulk_append of every record (all or nothing); a backpressure
    signal means they were stored, and is answered with a flush."""
    from timelog._core import TimelogBusyError

    if objs is None:
        objs = [None] * len(ts)
    try:
        log.bulk_append(ts, objs)
    except TimelogBusyError:
        log.flush()
    except OverflowError as e:
        raise OverflowError("%s: %s" % (what, e)) from None


def from_arrow(
    cls: Any,
    data: Any,
    ts: str,
    value: str | Sequence[str] | None,
    time_unit: str | None,
    unpickle: bool | None,
    settings: dict,
) -> Any:
    """``Timelog.from_arrow``: a new log of cls holding every row of data."""
    pa = require_pyarrow("Timelog.from_arrow()")
    if unpickle is not None and not isinstance(unpickle, bool):
        raise TypeError("unpickle must be None, True or False, got %r" % (unpickle,))
    table = read_table(data)
    unit = _unit_of(pa, table, ts)
    if time_unit is None:
        time_unit = unit if unit is not None else "ms"  # the Timelog default
    # Everything is converted before the log exists: bad input builds nothing.
    stamps = timestamp_column(table.column(ts), "column %r" % (ts,), time_unit)
    objs = payloads(table, value, unpickle, ts)
    settings = dict(settings, time_unit=time_unit)
    log = cls(**settings)
    try:
        store(log, stamps, objs, "Timelog.from_arrow(): column %r" % (ts,))
    except BaseException:
        log.close()
        raise
    return log

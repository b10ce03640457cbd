"""``Timelog.save`` / ``Timelog.load`` (issue 18, item 4): a log as a
Parquet or Arrow IPC file that every other tool reads too.

The file is a table ``ts: timestamp[time_unit, tz=UTC]`` (plus ``value``
unless ``payload=None``) in iteration order, with the schema metadata key
``timelog`` holding JSON: format name and version, ``time_unit``, the
constructor settings (as ``reopen`` keeps them), how the payloads are
stored, the row count and the saved range. ``load`` checks all of it, then
builds the log in one ``bulk_append``.

Round trips are exact. ``payload="auto"`` writes a native Arrow column only
when that gives back the same Python objects: every payload of one exact
type among int (int64), float, bool, str and bytes, with None as null.
Anything else (mixed types, dicts, subclasses, your own classes) goes
through the pickle column of the export's ``payload="pickle"`` (one pickle
a row), so nothing is approximated: pyarrow would turn ``[1, 2.5]`` into
floats and ``[{"a": 1}, {"b": 2}]`` into dicts with both keys.

pyarrow is imported lazily (timelog/_arrow_in.py).
"""

from __future__ import annotations

import inspect
import json
import os
import secrets
from typing import Any

import numpy as np

from timelog import _arrow_in, _arrow_payload
from timelog._config import _DEFAULTS

META_KEY = b"timelog"
FORMAT_NAME = "timelog"
FORMAT_VERSION = 1

_SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}
_NATIVE = {int: "int", float: "float", bool: "bool", str: "str", bytes: "bytes"}
_KINDS = ("none", "null", "pickle", *_NATIVE.values())
# Parquet has no seconds unit: pyarrow stores "s" as milliseconds, which
# overflows int64 beyond this many seconds from 1970 (then ts is stored as
# plain int64, and the metadata says so).
_S_IN_MS_LIMIT = (2**63 - 1) // 1000


def _format_of(path: str, format: str | None, what: str) -> str:
    if format is not None:
        if format not in ("parquet", "arrow"):
            raise ValueError(
                "%s: format=%r: expected 'parquet' or 'arrow' (Arrow IPC file)" % (what, format)
            )
        return format
    suffix = os.path.splitext(path)[1].lower()
    try:
        return _SUFFIXES[suffix]
    except KeyError:
        raise ValueError(
            "%s: cannot tell the file format from the suffix of %r; use .parquet or "
            ".pq (Parquet), .arrow, .feather or .ipc (Arrow IPC file), or pass "
            "format='parquet' or format='arrow'" % (what, path)
        ) from None


def _payload_column(pa: Any, ts: np.ndarray, objs: list, payload: str | None) -> tuple:
    """(kind, pyarrow array or None) for the payloads."""
    if payload is None:
        return "none", None
    if payload == "auto":
        kinds = set(map(type, objs))
        if kinds == {float}:
            # NumPy reads exact floats about 3x faster than pa.array does.
            return "float", pa.array(np.fromiter(objs, np.float64, len(objs)))
        kinds.discard(type(None))
        if not kinds:
            return "null", pa.nulls(len(objs))
        if len(kinds) == 1:
            (kind,) = kinds
            name = _NATIVE.get(kind)
            if name is not None:
                try:
                    arr = pa.array(objs, type=_ARROW_TYPES[name](pa))
                except (pa.ArrowException, OverflowError):
                    pass  # an int beyond int64: pickled below
                else:
                    return name, arr
    try:
        ((_, arr),) = _arrow_payload.convert(objs, "pickle")
    except _arrow_payload.PayloadRowError as e:
        raise e.error(int(ts[e.row])) from None
    return "pickle", arr


_ARROW_TYPES = {
    "int": lambda pa: pa.int64(),
    "float": lambda pa: pa.float64(),
    "bool": lambda pa: pa.bool_(),
    "str": lambda pa: pa.large_string(),
    "bytes": lambda pa: pa.large_binary(),
}


def _ts_column(pa: Any, ts: np.ndarray, unit: str, fmt: str) -> tuple:
    ts = np.ascontiguousarray(ts, dtype=np.int64)
    n = len(ts)
    if (
        fmt == "parquet"
        and unit == "s"
        and n
        and max(-int(ts.min()), int(ts.max())) > _S_IN_MS_LIMIT
    ):
        return "int64", pa.array(ts, type=pa.int64())
    # From the buffer itself: NumPy's NaT (-2**63) is a valid timestamp here.
    col = pa.Array.from_buffers(pa.timestamp(unit, tz="UTC"), n, [None, pa.py_buffer(ts)])
    return "timestamp", col


def save(log: Any, path: Any, t1: Any, t2: Any, format: str | None, payload: str | None) -> None:
    """``log.save(path, t1, t2, *, format=None, payload="auto")``."""
    from timelog import __version__, _core

    pa = _arrow_in.require_pyarrow("Timelog.save()")
    path = os.fspath(path)
    fmt = _format_of(path, format, "Timelog.save()")
    if not (payload is None or (isinstance(payload, str) and payload in ("auto", "pickle"))):
        raise ValueError(
            "Timelog.save(): payload=%r: expected 'auto' (an Arrow column when that "
            "round-trips exactly, pickles otherwise), 'pickle' or None (timestamps "
            "only)" % (payload,)
        )
    settings = _core._log_settings(log)
    ts, objs = log.arrays(t1, t2)  # one snapshot: what list(log[t1:t2]) gives
    unit = settings["time_unit"]
    encoding, ts_col = _ts_column(pa, ts, unit, fmt)
    kind, value_col = _payload_column(pa, ts, objs, payload)
    del objs
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "timelog": __version__,
        "time_unit": unit,
        "settings": settings,
        "payload": kind,
        "ts_encoding": encoding,
        "rows": len(ts),
        "range": [None if t is None else _core._ts_of(log, t) for t in (t1, t2)],
    }
    fields = [pa.field("ts", ts_col.type, nullable=False)]
    cols = [ts_col]
    if value_col is not None:
        field = pa.field("value", value_col.type)
        if kind == "pickle":
            field = _arrow_payload.pickle_field(value_col.type)
        fields.append(field)
        cols.append(value_col)
    schema = pa.schema(fields, metadata={META_KEY: json.dumps(meta).encode("utf-8")})
    table = pa.Table.from_arrays(cols, schema=schema)
    _write_atomically(pa, table, path, fmt)


def _write_atomically(pa: Any, table: Any, path: str, fmt: str) -> None:
    """Writes a temporary file beside path, syncs it, then renames it over
    path: a failed or interrupted save leaves any existing file as it was."""
    folder, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(folder, ".%s.%d.%s.tmp" % (name, os.getpid(), secrets.token_hex(4)))
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            # Page CRCs (a Parquet feature other readers verify too): a
            # flipped bit in a data page fails the load instead of loading
            # other values.
            pq.write_table(table, tmp, **_checksum_option(pq.write_table, "write_page_checksum"))
        else:
            with pa.OSFile(tmp, "wb") as sink:
                with pa.ipc.new_file(sink, table.schema) as writer:
                    writer.write_table(table, max_chunksize=1 << 20)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _checksum_option(fn: Any, name: str) -> dict:
    """{name: True} where this pyarrow's fn takes it (pyarrow >= 14), else {}."""
    try:
        return {name: True} if name in inspect.signature(fn).parameters else {}
    except (TypeError, ValueError):  # no signature to read: go without
        return {}


def _bad(path: str, why: str) -> ValueError:
    return ValueError("Timelog.load(%r): %s; nothing was loaded" % (path, why))


def _read(pa: Any, path: str, fmt: str) -> Any:
    if os.path.isdir(path):
        raise IsADirectoryError("Timelog.load(%r): a directory, not a file" % (path,))
    os.stat(path)  # a missing file: FileNotFoundError, as open() gives
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            # One file (read_table would read a directory as a dataset).
            verify = _checksum_option(pq.ParquetFile, "page_checksum_verification")
            with pq.ParquetFile(path, **verify) as f:
                return f.read()
        with pa.memory_map(path, "r") as source:
            return pa.ipc.open_file(source).read_all()
    except (pa.ArrowException, OSError) as e:
        # pyarrow reports a failed page CRC (and other IO-status problems) as
        # an OSError with no errno; a real one (permissions, EIO) has its errno
        # and keeps its type.
        if isinstance(e, OSError) and e.errno is not None:
            raise
        other = "Arrow IPC" if fmt == "parquet" else "Parquet"
        raise _bad(
            path,
            "the file is not a readable %s file (%s); it is damaged or truncated, "
            "or it is an %s file (pass format=%r)"
            % (
                "Parquet" if fmt == "parquet" else "Arrow IPC",
                e,
                other,
                "arrow" if fmt == "parquet" else "parquet",
            ),
        ) from e


def _metadata(table: Any, path: str) -> dict:
    raw = (table.schema.metadata or {}).get(META_KEY)
    if raw is None:
        raise _bad(
            path,
            "the file was not written by Timelog.save (no 'timelog' schema metadata); "
            "to read any table, use Timelog.from_arrow(pyarrow.parquet.read_table(path), "
            "ts=..., value=...)",
        )
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise _bad(path, "its 'timelog' metadata is not valid JSON (%s)" % (e,)) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise _bad(path, "its 'timelog' metadata is not Timelog.save's")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise _bad(
            path,
            "it was written in format version %r, newer than this timelog reads (%d): "
            "upgrade timelog" % (version, FORMAT_VERSION),
        )
    for key, kind in (
        ("settings", dict),
        ("rows", int),
        ("payload", str),
        ("ts_encoding", str),
        ("time_unit", str),
    ):
        if not isinstance(meta.get(key), kind):
            raise _bad(path, "its 'timelog' metadata has no valid %r" % (key,))
    if meta["payload"] not in _KINDS or meta["ts_encoding"] not in ("timestamp", "int64"):
        raise _bad(path, "its 'timelog' metadata is not Timelog.save's")
    unknown = sorted(set(meta["settings"]) - set(_DEFAULTS))
    if unknown:
        # Only constructor knobs: never a private argument such as _fail_alloc.
        raise _bad(path, "its metadata names unknown settings %s" % (", ".join(unknown),))
    if meta["settings"].get("time_unit") != meta["time_unit"]:
        raise _bad(path, "its 'timelog' metadata disagrees with itself (time_unit)")
    return meta


def load(cls: Any, path: Any, format: str | None, unpickle: bool, overrides: dict) -> Any:
    """``Timelog.load(path, *, format=None, unpickle=True, **overrides)``."""
    pa = _arrow_in.require_pyarrow("Timelog.load()")
    path = os.fspath(path)
    fmt = _format_of(path, format, "Timelog.load()")
    table = _read(pa, path, fmt)
    meta = _metadata(table, path)
    if table.num_rows != meta["rows"] or "ts" not in table.column_names:
        raise _bad(
            path,
            "it holds %d rows where its metadata says %d (or has no 'ts' column): "
            "it was changed after Timelog.save" % (table.num_rows, meta["rows"]),
        )
    kind = meta["payload"]
    if (kind == "none") != ("value" not in table.column_names):
        raise _bad(path, "its columns do not match its metadata")
    # Everything is converted before the log exists: a bad file builds nothing.
    ts_col = table.column("ts")
    want = pa.int64() if meta["ts_encoding"] == "int64" else None
    if want is not None and ts_col.type != want:
        raise _bad(path, "its ts column is %s, not int64" % (ts_col.type,))
    if want is None and not pa.types.is_timestamp(ts_col.type):
        raise _bad(path, "its ts column is %s, not a timestamp" % (ts_col.type,))
    unit = overrides.get("time_unit", meta["time_unit"])
    try:
        stamps = _arrow_in.timestamp_column(ts_col, "column 'ts'", unit)
    except (TypeError, ValueError) as e:
        raise _bad(path, str(e)) from None
    if want is not None and unit != meta["time_unit"]:
        stamps = stamps.view("M8[%s]" % (meta["time_unit"],))
    objs = None
    if kind != "none":
        col = table.column("value")
        if kind == "pickle" and not unpickle:
            objs = _arrow_in.column_objects(pa, col, False, "value")
        else:
            try:
                objs = _arrow_in.column_objects(pa, col, kind == "pickle", "value")
            except (TypeError, ValueError) as e:
                raise _bad(path, str(e)) from None
    del table
    settings = dict(meta["settings"])
    try:
        log = cls(**settings)
    except (TypeError, ValueError, OverflowError) as e:
        raise _bad(path, "its settings are not valid (%s)" % (e,)) from None
    try:
        if overrides:
            # reopen() applies overrides as it does for any log, converting
            # a min_ts guard into a new time_unit exactly.
            log.close()
            log.reopen(**overrides)
        _arrow_in.store(log, stamps, objs, "Timelog.load(%r)" % (path,))
    except BaseException:
        log.close()
        raise
    return log

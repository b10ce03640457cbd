"""Type stubs for timelog._core (the compiled binding)."""

import datetime
import os
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal, SupportsIndex, TypedDict, overload

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, Unpack, deprecated

_TimeUnit = Literal["s", "ms", "us", "ns"]
_Maintenance = Literal["background", "disabled"]
_BusyPolicy = Literal["raise", "silent", "flush"]
# A timestamp: an int in the log's time_unit, or a point in time converted
# exactly into it (naive datetimes are UTC; pandas.Timestamp is a datetime).
_Ts = int | SupportsIndex | datetime.datetime | np.datetime64
# Any 1-D buffer of timestamps: int64 is read in place; int8..int32,
# uint8..uint32, uint64 (<= 2**63-1) and datetime64 are converted; so are a
# tz-aware pandas DatetimeIndex/Series and Arrow timestamp or integer columns
# (pyarrow arrays, Polars Series: anything with __arrow_c_array__/_stream__).
_TimestampBuffer = (
    npt.NDArray[np.signedinteger[Any]]
    | npt.NDArray[np.unsignedinteger[Any]]
    | npt.NDArray[np.datetime64]
    | memoryview
    | Any
)

# A step (bucket or window width): an int in the log's time_unit, or a
# duration converted exactly into it: timedelta (pandas.Timedelta too),
# numpy.timedelta64, or a fixed frequency string ("1min", "250ms").
_Step = int | SupportsIndex | datetime.timedelta | np.timedelta64 | str

# Payload columns of an Arrow export (timelog/_arrow_payload.py).
_Payload = Literal["auto", "columns", "pickle"] | None

class _ArrowRange:
    """timelog._frames.ArrowRange: [t1, t2) of a log as an Arrow stream source."""
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

class TimelogError(Exception): ...
class TimelogBusyError(TimelogError): ...

class CompactionConfig(TypedDict, total=False):
    target_bytes: int
    max_inputs: int
    max_windows: int

class AdaptiveConfig(TypedDict, total=False):
    target_records: int
    min_window: int
    max_window: int
    hysteresis_pct: float
    window_quantum: int
    alpha: float
    warmup_flushes: int
    stale_flushes: int
    failure_backoff_threshold: int
    failure_backoff_pct: float

class _AdaptiveStats(TypedDict):
    enabled: bool
    target_records: int
    window_size: int
    density: float | None
    flushes_seen: int
    resizes: int
    failures: int

class _StorageStats(TypedDict):
    records_estimate: int
    physical_records: int
    memruns: int
    memrun_records: int
    segments_l0: int
    segments_l1: int
    records_l0: int
    records_l1: int
    pages_total: int
    tombstone_count: int
    min_ts: int | None
    max_ts: int | None

class _MemtableStats(TypedDict):
    active_records: int
    ooo_records: int
    sealed_runs: int

class _MemoryStats(TypedDict):
    engine_bytes: int
    peak_bytes: int
    alloc_calls: int
    alloc_failures: int

class _OperationalStats(TypedDict):
    seals_total: int
    flushes_total: int
    compactions_total: int
    busy_events: int
    extend_skipped: int
    retired_queue_len: int
    dropped_handles: int
    snapshots: int
    covered_drops_total: int
    compactions_bounded_total: int

class _ConfigEcho(TypedDict):
    time_unit: _TimeUnit
    maintenance: _Maintenance
    busy_policy: _BusyPolicy
    min_ts: int | None
    mostly_ordered_default: bool
    memtable_max_bytes: int
    target_page_bytes: int
    sealed_max_runs: int
    ooo_budget_bytes: int
    sealed_wait_ms: int
    drain_batch_limit: int
    maintenance_wakeup_ms: int
    max_delta_segments: int
    window_size: int
    window_origin: int
    delete_debt_threshold: float
    compaction: CompactionConfig | None
    adaptive: AdaptiveConfig | None

class TimelogStats(TypedDict):
    records: int
    storage: _StorageStats
    memtable: _MemtableStats
    memory: _MemoryStats
    operational: _OperationalStats
    adaptive: _AdaptiveStats
    config: _ConfigEcho

class TimelogSettings(TypedDict, total=False):
    """Every constructor keyword: what presets, reopen() and configure() accept."""

    time_unit: _TimeUnit
    maintenance: _Maintenance
    busy_policy: _BusyPolicy
    min_ts: _Ts | None
    mostly_ordered_default: bool
    memtable_max_bytes: int
    target_page_bytes: int
    sealed_max_runs: int
    ooo_budget_bytes: int
    sealed_wait_ms: int
    drain_batch_limit: int
    maintenance_wakeup_ms: int
    max_delta_segments: int
    window_size: int
    window_origin: int
    delete_debt_threshold: float
    compaction: CompactionConfig | None
    adaptive: AdaptiveConfig | None

class _FlatSettings(TimelogSettings, total=False):
    """TimelogSettings plus the deprecated flat spellings of the dict knobs
    (adaptive_<key>=v is adaptive={<key>: v}, compaction_<key>=v is
    compaction={<key>: v}; each use warns at runtime)."""

    adaptive_target_records: int
    adaptive_min_window: int
    adaptive_max_window: int
    adaptive_hysteresis_pct: float
    adaptive_window_quantum: int
    adaptive_alpha: float
    adaptive_warmup_flushes: int
    adaptive_stale_flushes: int
    adaptive_failure_backoff_threshold: int
    adaptive_failure_backoff_pct: float
    compaction_target_bytes: int
    compaction_max_inputs: int
    compaction_max_windows: int

_FLAT_DEPRECATED = (
    "flat adaptive_<key>= / compaction_<key>= keywords are deprecated: "
    "use adaptive={...} / compaction={...}"
)

class Timelog:
    @overload
    def __init__(
        self,
        *,
        time_unit: _TimeUnit = "ms",
        maintenance: _Maintenance = "background",
        busy_policy: _BusyPolicy = "raise",
        min_ts: _Ts | None = None,
        mostly_ordered_default: bool = True,
        memtable_max_bytes: int = 0,
        target_page_bytes: int = 0,
        sealed_max_runs: int = 0,
        ooo_budget_bytes: int = 0,
        sealed_wait_ms: int = 0,
        drain_batch_limit: int = 0,
        maintenance_wakeup_ms: int = 0,
        max_delta_segments: int = 0,
        window_size: int = 0,
        window_origin: int = 0,
        delete_debt_threshold: float = 0.0,
        compaction: CompactionConfig | None = None,
        adaptive: AdaptiveConfig | None = None,
        _fail_alloc: int | tuple[int, int] | None = None,  # internal: fault injection
    ) -> None: ...
    # The flat spellings type-check (code written for timelog-lib keeps
    # passing mypy --strict) and a checker that reports PEP 702
    # deprecations flags them.
    @overload
    @deprecated(_FLAT_DEPRECATED)
    def __init__(self, **settings: Unpack[_FlatSettings]) -> None: ...
    @classmethod
    def for_streaming(cls, **overrides: Unpack[TimelogSettings]) -> Self: ...
    @classmethod
    def for_bulk_ingest(cls, **overrides: Unpack[TimelogSettings]) -> Self: ...
    @classmethod
    def for_low_latency(cls, **overrides: Unpack[TimelogSettings]) -> Self: ...
    @classmethod
    def from_arrow(
        cls,
        data: Any,
        ts: str = "ts",
        value: str | Sequence[str] | None = "value",
        *,
        unpickle: bool | None = None,
        # time_unit (one of settings) defaults to the ts column's unit here
        **settings: Unpack[TimelogSettings],
    ) -> Self: ...
    @overload
    def reopen(self, **overrides: Unpack[TimelogSettings]) -> Self: ...
    @overload
    @deprecated(_FLAT_DEPRECATED)
    def reopen(self, **overrides: Unpack[_FlatSettings]) -> Self: ...
    @overload
    def configure(self, **overrides: Unpack[TimelogSettings]) -> Self: ...
    @overload
    @deprecated(_FLAT_DEPRECATED)
    def configure(self, **overrides: Unpack[_FlatSettings]) -> Self: ...

    # writes
    # timelog-lib's parameter names, usable as keywords. With two arguments
    # (ts, obj) a ts= keyword is accepted and ignored, as in timelog-lib.
    @overload
    def append(self, obj_or_ts: object, *, ts: _Ts | None = None) -> None: ...
    @overload
    def append(self, obj_or_ts: _Ts, obj_or_none: object, *, ts: object = None) -> None: ...
    def __setitem__(self, ts: _Ts, obj: object) -> None: ...
    @overload
    def extend(
        self,
        pairs: Iterable[tuple[_Ts, object]],
        /,
        *,
        mostly_ordered: bool | None = None,
        insert_on_error: bool = True,
    ) -> None: ...
    @overload
    def extend(
        self,
        ts_or_iterable: Iterable[_Ts],
        objects: Iterable[object],
        *,
        mostly_ordered: bool | None = None,
        insert_on_error: bool = True,
    ) -> None: ...
    def bulk_append(
        self,
        timestamps: _TimestampBuffer,
        objects: Sequence[Any] | npt.NDArray[Any],
        *,
        mostly_ordered: bool | None = None,
    ) -> None: ...

    # deletes
    @overload
    def delete(self, ts: _Ts, /) -> None: ...
    @overload
    def delete(self, t1: _Ts | None, t2: _Ts | None, /) -> None: ...
    def cutoff(self, ts: _Ts) -> None: ...
    def delete_range(self, t1: _Ts, t2: _Ts) -> None: ...
    def delete_before(self, ts: _Ts) -> None: ...
    def __delitem__(self, key: _Ts | slice) -> None: ...

    # reads
    @overload
    def __getitem__(self, key: slice) -> TimelogIter: ...
    @overload
    def __getitem__(self, key: _Ts) -> list[Any]: ...
    def at(self, ts: _Ts) -> list[Any]: ...
    def range(self, t1: _Ts, t2: _Ts) -> TimelogIter: ...
    def since(self, t1: _Ts) -> TimelogIter: ...
    def until(self, t2: _Ts) -> TimelogIter: ...
    def all(self) -> TimelogIter: ...
    def point(self, ts: _Ts) -> TimelogIter: ...
    def equal(self, ts: _Ts) -> TimelogIter: ...
    def __iter__(self) -> TimelogIter: ...
    def __contains__(self, ts: object) -> bool: ...
    def __len__(self) -> int: ...
    def count(self, t1: _Ts | None = None, t2: _Ts | None = None) -> int: ...

    # array-native reads
    def arrays(
        self, t1: _Ts | None = None, t2: _Ts | None = None
    ) -> tuple[npt.NDArray[np.int64], list[Any]]: ...
    # exports: fresh arrays (values converted to dtype) and {ts: obj}
    @overload
    def to_numpy(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, dtype: None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...
    @overload
    def to_numpy(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, dtype: npt.DTypeLike
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]: ...
    def to_dict(self, t1: _Ts | None = None, t2: _Ts | None = None) -> dict[int, Any]: ...
    def timestamps(self, t1: _Ts | None = None, t2: _Ts | None = None) -> npt.NDArray[np.int64]: ...
    def histogram(
        self,
        t1: _Ts | None = None,
        t2: _Ts | None = None,
        bins: SupportsIndex | datetime.timedelta | np.timedelta64 | str = 10,
        *,
        step: _Step | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
    def counts(self, t1: _Ts | None, t2: _Ts | None, step: _Step) -> npt.NDArray[np.int64]: ...
    def windows(self, t1: _Ts | None, t2: _Ts | None, every: _Step) -> _Windows: ...
    def min_ts(self) -> int | None: ...
    def max_ts(self) -> int | None: ...
    def next_ts(self, ts: _Ts) -> int | None: ...
    def prev_ts(self, ts: _Ts) -> int | None: ...

    # zero-copy views
    def views(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, kind: Literal["segment"] = "segment"
    ) -> PageSpanIter: ...
    def page_spans(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, kind: Literal["segment"] = "segment"
    ) -> PageSpanIter: ...

    # maintenance and introspection
    def flush(self) -> None: ...
    def compact(self) -> None: ...
    def maint_step(self) -> bool: ...
    def start_maintenance(self) -> None: ...
    def stop_maintenance(self) -> None: ...
    @property
    def maintenance_running(self) -> bool: ...
    def stats(self) -> TimelogStats: ...
    def _gate_state(self) -> tuple[bool, int, int, list[tuple[int, int]]]: ...
    def _validate(self) -> None: ...
    def validate(self) -> None: ...
    # internal, for tests: Timelog(_fail_alloc=...) fault injection
    def _arm_alloc_failure(self, k: int, every: int = 0) -> None: ...
    @property
    def _alloc_calls(self) -> int | None: ...
    @property
    def _alloc_failures_injected(self) -> int | None: ...
    @property
    def busy_events(self) -> int: ...
    @property
    def alloc_failures(self) -> int: ...
    @property
    def min_ts_floor(self) -> int | None: ...
    @property
    def extend_skipped(self) -> int: ...
    @property
    def retired_queue_len(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def time_unit(self) -> _TimeUnit: ...
    @property
    def maintenance_mode(self) -> _Maintenance: ...
    @property
    def busy_policy(self) -> _BusyPolicy: ...

    # lifecycle
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...
    def __sizeof__(self) -> int: ...
    def _repr_html_(self) -> str: ...

    # pandas and pickling
    # A pandas.DataFrame (index "ts": DatetimeIndex, column "value": the
    # objects). Typed Any because pandas ships no type information of its own.
    def to_pandas(
        self,
        t1: _Ts | None = None,
        t2: _Ts | None = None,
        *,
        tz: str | datetime.tzinfo | None = None,
    ) -> Any: ...

    # Arrow (docs/arrow.md). The capsule is a PyCapsule "arrow_array_stream";
    # pyarrow.Table and polars.DataFrame are Any: neither is a dependency.
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def arrow(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, payload: _Payload = "auto"
    ) -> _ArrowRange: ...
    def to_arrow(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, payload: _Payload = "auto"
    ) -> Any: ...
    def to_polars(
        self, t1: _Ts | None = None, t2: _Ts | None = None, *, payload: _Payload = "auto"
    ) -> Any: ...
    def save(
        self,
        path: str | os.PathLike[str],
        t1: _Ts | None = None,
        t2: _Ts | None = None,
        *,
        format: Literal["parquet", "arrow"] | None = None,
        payload: Literal["auto", "pickle"] | None = "auto",
    ) -> None: ...
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        format: Literal["parquet", "arrow"] | None = None,
        unpickle: bool = True,
        **overrides: Unpack[TimelogSettings],
    ) -> Self: ...
    def __reduce__(self) -> tuple[Any, ...]: ...
    def __setstate__(self, state: Any) -> None: ...

class TimelogIter(Iterator[tuple[int, Any]]):
    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[int, Any]: ...
    def __len__(self) -> int: ...
    def next_batch(self, n: int) -> list[tuple[int, Any]]: ...
    def next_arrays(self, n: int) -> tuple[npt.NDArray[np.int64], list[Any]]: ...
    def _repr_html_(self) -> str: ...
    def to_numpy(self) -> tuple[npt.NDArray[np.int64], list[Any]]: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def view(self) -> PageSpanIter: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

class _Windows(Iterator[tuple[int, TimelogIter]]):
    def __iter__(self) -> Self: ...
    def __next__(self) -> tuple[int, TimelogIter]: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

class PageSpanIter(Iterator[PageSpan]):
    def __iter__(self) -> Self: ...
    def __next__(self) -> PageSpan: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...

class PageSpan:
    @property
    def timestamps(self) -> npt.NDArray[np.int64]: ...
    @property
    def _address(self) -> int: ...
    def copy_timestamps(self) -> npt.NDArray[np.int64]: ...
    def objects(self) -> PageSpanObjectsView: ...
    def __len__(self) -> int: ...
    @property
    def start_ts(self) -> int: ...
    @property
    def last_ts(self) -> int: ...
    @property
    def end_ts(self) -> int | None: ...
    @property
    def t1(self) -> int: ...
    @property
    def t2(self) -> int | None: ...
    @property
    def level(self) -> int: ...
    def _repr_html_(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]: ...
    # The buffer protocol (read-only 1-D int64 'q'): memoryview(span),
    # np.frombuffer(span, np.int64). PEP 688 spelling, which type checkers
    # use on every version (the methods exist at runtime from 3.12).
    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __release_buffer__(self, buffer: memoryview, /) -> None: ...

class PageSpanObjectsView(Sequence[Any]):
    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, i: SupportsIndex) -> Any: ...
    @overload
    def __getitem__(self, i: slice) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...
    @property
    def closed(self) -> bool: ...
    def copy(self) -> list[Any]: ...

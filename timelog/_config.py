"""timelog._config: a Timelog's settings, in pure Python.

The defaults, the presets, and the validation of every constructor knob
(each error names the knob). timelog._core turns the validated settings into
the engine's ``tl_config_t``; nothing here needs C. One thing does need the
binding: converting ``min_ts`` (a datetime, a datetime64...) into the log's
unit, so ``_normalize`` takes that converter as an argument.
"""

from __future__ import annotations

import math
import numbers
import operator
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from timelog._format import _UNIT_NS, _fmt_ts

# The choices of the str knobs, in the order error messages list them
# (timelog._core maps each to its engine enum value).
TIME_UNITS = ("s", "ms", "us", "ns")
MAINTENANCE_MODES = ("background", "disabled")
BUSY_POLICIES = ("raise", "silent", "flush")

_COMPACTION_KEYS = ("target_bytes", "max_inputs", "max_windows")
# adaptive={...}: key -> (kind, lo, hi, default). A missing key takes the
# default; settings echo the complete dict. Floats must be finite.
_ADAPTIVE_SPEC: dict[str, tuple[str, Any, Any, Any]] = {
    "target_records": ("int", 0, 2**64 - 1, 0),
    "min_window": ("int", 0, 2**63 - 1, 0),
    "max_window": ("int", 0, 2**63 - 1, 0),
    "hysteresis_pct": ("float", 0.0, 100.0, 10.0),
    "window_quantum": ("int", 0, 2**63 - 1, 0),
    "alpha": ("float", 0.0, 1.0, 0.2),
    "warmup_flushes": ("int", 0, 2**32 - 1, 2),
    "stale_flushes": ("int", 0, 2**32 - 1, 0),
    "failure_backoff_threshold": ("int", 0, 2**32 - 1, 0),
    "failure_backoff_pct": ("float", 0.0, 100.0, 50.0),
}
_ADAPTIVE_KEYS = tuple(_ADAPTIVE_SPEC)
# The deprecated flat spellings: adaptive_<key>=v is adaptive={<key>: v},
# compaction_<key>=v is compaction={<key>: v}.
_FLAT_KNOBS: dict[str, tuple[str, str]] = dict(
    [("adaptive_" + k, ("adaptive", k)) for k in _ADAPTIVE_KEYS]
    + [("compaction_" + k, ("compaction", k)) for k in _COMPACTION_KEYS]
)

_DEFAULTS: dict[str, Any] = {
    "time_unit": "ms",
    "maintenance": "background",
    "busy_policy": "raise",
    "min_ts": None,
    "mostly_ordered_default": True,
    "memtable_max_bytes": 0,
    "target_page_bytes": 0,
    "sealed_max_runs": 0,
    "ooo_budget_bytes": 0,
    "sealed_wait_ms": 0,
    "drain_batch_limit": 0,
    "maintenance_wakeup_ms": 0,
    "max_delta_segments": 0,
    "window_size": 0,
    "window_origin": 0,
    "delete_debt_threshold": 0.0,
    "compaction": None,
    "adaptive": None,
}

# What Timelog.for_streaming() / for_bulk_ingest() / for_low_latency() start
# from (keyword arguments override them).
PRESETS: dict[str, dict[str, Any]] = {
    "streaming": {"maintenance": "background", "busy_policy": "flush"},
    "bulk_ingest": {
        "maintenance": "disabled",
        "busy_policy": "flush",
        "memtable_max_bytes": 16 * 1024 * 1024,
    },
    "low_latency": {
        "maintenance": "background",
        "busy_policy": "raise",
        "memtable_max_bytes": 256 * 1024,
        "sealed_wait_ms": 0,
    },
}

_SIZE_MAX = 2**63 - 1
_U32_MAX = 2**32 - 1
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1

# min_ts's converter: (value, time_unit name) -> an int in that unit, raising
# TypeError/OverflowError for what is not a timestamp (timelog._core's _ts).
TsConverter = Callable[[Any, str], int]


def _is_index(value: Any) -> bool:
    # PyIndex_Check: the type defines __index__ (int, numpy integers...).
    return hasattr(type(value), "__index__")


def _int_knob(name: str, value: Any, lo: int, hi: int) -> int:
    if type(value) is int and lo <= value <= hi:
        return value  # the common case (every default is 0): nothing to convert
    if isinstance(value, (bool, np.bool_)):
        raise TypeError("%s must be an int, got a bool (%r)" % (name, value))
    if not _is_index(value):
        raise TypeError("%s must be an int, got %s (%r)" % (name, type(value).__name__, value))
    value = operator.index(value)
    if value < lo:
        if lo == 0:
            raise ValueError("%s must be >= 0 (0 means the engine default), got %d" % (name, value))
        raise ValueError("%s must be >= %d, got %d" % (name, lo, value))
    if value > hi:
        raise ValueError("%s must be <= %d, got %d" % (name, hi, value))
    return int(value)


def _choice_knob(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(
            "%s must be a str, one of %s; got %s (%r)"
            % (name, ", ".join(map(repr, choices)), type(value).__name__, value)
        )
    if value not in choices:
        raise ValueError(
            "%s must be one of %s; got %r" % (name, ", ".join(map(repr, choices)), value)
        )
    return value


def _float_knob(
    name: str, value: Any, lo: float, hi: float, lo_open: bool = False, hi_open: bool = False
) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            "%s must be a real number, got %s (%r)" % (name, type(value).__name__, value)
        )
    f = float(value)
    if not math.isfinite(f):
        raise ValueError("%s must be a finite number, got %r" % (name, f))
    if f < lo or f > hi or (lo_open and f == lo) or (hi_open and f == hi):
        raise ValueError(
            "%s must be in %s%r, %r%s, got %r"
            % (name, "(" if lo_open else "[", lo, hi, ")" if hi_open else "]", f)
        )
    return f


def _check_dict_keys(name: str, value: Any, keys: tuple[str, ...]) -> None:
    """A knob given as a dict: str keys among `keys` (TypeError/ValueError)."""
    if not isinstance(value, dict):
        raise TypeError(
            "%s must be a dict with keys %s, got %s"
            % (name, ", ".join(map(repr, keys)), type(value).__name__)
        )
    for key in value:
        if not isinstance(key, str):
            raise TypeError(
                "%s: keys must be str (one of %s), got %s (%r)"
                % (name, ", ".join(map(repr, keys)), type(key).__name__, key)
            )
        if key not in keys:
            raise ValueError(
                "%s: unknown key %r (expected %s)" % (name, key, ", ".join(map(repr, keys)))
            )


def _adaptive_knob(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    _check_dict_keys("adaptive", value, _ADAPTIVE_KEYS)
    out: dict[str, Any] = {}
    for key, (kind, lo, hi, default) in _ADAPTIVE_SPEC.items():
        v = value.get(key, default)
        label = "adaptive[%r]" % (key,)
        if kind == "int":
            out[key] = _int_knob(label, v, lo, hi)
        elif key == "alpha":
            out[key] = _float_knob(label, v, lo, hi, lo_open=True)
        elif key == "failure_backoff_pct":
            out[key] = _float_knob(label, v, lo, hi, hi_open=True)
        else:
            out[key] = _float_knob(label, v, lo, hi)
    if out["min_window"] and out["max_window"] and out["min_window"] > out["max_window"]:
        raise ValueError(
            "adaptive: min_window (%d) must not exceed max_window (%d)"
            % (out["min_window"], out["max_window"])
        )
    return out


def _fold_flat(kw: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rewrites the deprecated flat spellings in kw into the dict knobs.

    adaptive_alpha=0.3 becomes adaptive={"alpha": 0.3} (merged with an
    adaptive dict given in the same call, else with base's, as reopen keeps
    settings not given); each one warns. Giving one knob both ways is a
    TypeError, like a keyword given twice.
    """
    flat = [name for name in kw if name in _FLAT_KNOBS]
    for name in flat:
        group, key = _FLAT_KNOBS[name]
        # stacklevel 2: the caller of this function is a compiled Timelog
        # method, whose frame is invisible, so the next Python frame is the
        # user's (the warning names their line).
        warnings.warn(
            "%s=... is deprecated; pass %s={%r: ...} instead" % (name, group, key),
            DeprecationWarning,
            stacklevel=2,
        )
        given = kw.get(group)
        if group in kw and isinstance(given, dict) and key in given:
            raise TypeError(
                "%s given twice: as %s=%r and as %s[%r]=%r; pass only %s={%r: ...}"
                % (key, name, kw[name], group, key, given[key], group, key)
            )
        if group in kw:
            nested = given
        else:
            nested = base.get(group) if base is not None else None
        if nested is not None and not isinstance(nested, dict):
            continue  # _normalize names the bad dict knob
        merged = dict(nested) if nested is not None else {}
        merged[key] = kw.pop(name)
        kw[group] = merged
    return kw


def _normalize(kw: dict[str, Any], ts_of: TsConverter) -> dict[str, Any]:
    """Validates every knob (naming it in the message); returns clean values.

    ts_of converts min_ts into the (already validated) time_unit.
    """
    out: dict[str, Any] = {}
    for name in kw:
        if name not in _DEFAULTS:
            raise TypeError("unexpected keyword argument %r" % (name,))
    for name, default in _DEFAULTS.items():
        value = kw.get(name, default)
        if name == "time_unit":
            value = _choice_knob(name, value, TIME_UNITS)
        elif name == "maintenance":
            value = _choice_knob(name, value, MAINTENANCE_MODES)
        elif name == "busy_policy":
            value = _choice_knob(name, value, BUSY_POLICIES)
        elif name == "min_ts":
            if value is not None:
                try:
                    value = int(ts_of(value, out["time_unit"]))
                except OverflowError:
                    raise ValueError(
                        "min_ts must be within the int64 range [-2**63, 2**63-1], got %r" % (value,)
                    ) from None
                except TypeError as e:
                    raise TypeError("min_ts: %s" % (e,)) from None
        elif name == "mostly_ordered_default":
            if not isinstance(value, bool):
                raise TypeError(
                    "mostly_ordered_default must be a bool, got %s (%r)"
                    % (type(value).__name__, value)
                )
        elif name in ("sealed_wait_ms", "maintenance_wakeup_ms"):
            value = _int_knob(name, value, 0, _U32_MAX)
        elif name == "window_size":
            value = _int_knob(name, value, 0, _I64_MAX)
        elif name == "window_origin":
            value = _int_knob(name, value, _I64_MIN, _I64_MAX)
        elif name == "delete_debt_threshold":
            if type(value) is float and 0.0 <= value <= 1.0:
                pass  # the common case: already clean (and not NaN)
            elif isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
                raise TypeError(
                    "delete_debt_threshold must be a real number in "
                    "[0, 1], got %s (%r)" % (type(value).__name__, value)
                )
            else:
                value = float(value)
                if math.isnan(value) or not (0.0 <= value <= 1.0):
                    raise ValueError("delete_debt_threshold must be in [0, 1], got %r" % (value,))
        elif name == "compaction":
            if value is not None:
                _check_dict_keys("compaction", value, _COMPACTION_KEYS)
                value = {
                    key: _int_knob("compaction[%r]" % (key,), value.get(key, 0), 0, _SIZE_MAX)
                    for key in _COMPACTION_KEYS
                }
        elif name == "adaptive":
            value = _adaptive_knob(value)
        else:
            value = _int_knob(name, value, 0, _SIZE_MAX)
        out[name] = value
    return out


def _point_to_unit(v: int, old: str, new: str) -> int:
    """A point in time v (an int in unit old) as an int in unit new, exactly.

    ValueError (naming min_ts, both units and what to do) when there is no
    exact int64 value: a coarser unit and v not a whole number of it, or a
    finer unit that overflows.
    """
    a, b = _UNIT_NS[old], _UNIT_NS[new]
    if a == b:
        return v
    if a > b:
        w = v * (a // b)
        if w < _I64_MIN or w > _I64_MAX:
            raise ValueError(
                "reopen(time_unit=%r): min_ts=%d (%s) is %d in %r, outside the int64 "
                "range; nothing was changed (the log stays closed): pass min_ts "
                "explicitly" % (new, v, _fmt_ts(v, old), w, new)
            )
        return w
    q, r = divmod(v, b // a)
    if r:
        raise ValueError(
            "reopen(time_unit=%r): min_ts=%d (%s) is not a whole number of %r "
            "units, so the guard has no exact value in the new unit; nothing was "
            "changed (the log stays closed): pass min_ts explicitly, e.g. "
            "min_ts=%d (rounded up, rejects the rest of that unit) or min_ts=%d "
            "(rounded down, admits it)" % (new, v, _fmt_ts(v, old), new, q + 1, q)
        )
    return q

"""timelog._format: how a Timelog shows itself (repr, Jupyter HTML), in pure Python.

timelog._core gathers the numbers (one ``tl_stats()`` call, see
``Timelog._summary``); everything here only formats them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, cast

import numpy as np

_LEVEL_NAMES = {0: "memrun", 1: "L0", 2: "L1"}
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_I64_MIN = -(2**63)


def _fmt_ts(ts: int, unit: str) -> str:
    """An int64 timestamp as ISO 8601 UTC text ("2024-01-01T00:00:00.000Z").

    Exact, via numpy.datetime64 in the log's own unit. -2**63 is NaT to
    NumPy, so it (and anything NumPy cannot print) is shown as an int.
    """
    if ts == _I64_MIN:
        return "%d (int64 min)" % (ts,)
    try:
        # cast: NumPy types the unit as a Literal; ours is one of time_unit's.
        return str(np.datetime64(int(ts), cast(Any, unit))) + "Z"
    except (ValueError, OverflowError):
        return "%d %s" % (ts, unit)


def _fmt_duration(d: int, unit: str) -> str:
    """A duration (an int in unit) in human units: "16.8 min", "250 ms", "3.2 days"."""
    ns = int(d) * _UNIT_NS[unit]
    sec = ns / 1e9
    if ns == 0:
        return "0 s"
    if ns < 1000:
        return "%d ns" % (ns,)
    if ns < 10**6:
        return "%.3g us" % (ns / 1e3,)
    if ns < 10**9:
        return "%.3g ms" % (ns / 1e6,)
    if sec < 60:
        return "%.3g s" % (sec,)
    if sec < 3600:
        return "%.3g min" % (sec / 60,)
    if sec < 86400:
        return "%.3g h" % (sec / 3600,)
    if sec < 86400 * 365.25:
        return "%.3g days" % (sec / 86400,)
    return "%.3g years" % (sec / (86400 * 365.25),)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else ("%.1f %s" % (n, unit))
        n /= 1024.0
    raise AssertionError("unreachable: GiB always returns")


def _repr_closed(name: str, unit: str | None) -> str:
    """repr() of a closed log (unit None: never opened)."""
    if unit is None:
        return "<%s closed>" % (name,)
    return "<%s closed, time_unit=%r>" % (name, unit)


def _repr_text(name: str, d: Mapping[str, Any], unit: str) -> str:
    """repr() of an open log from its summary d (Timelog._summary)."""
    if d["first"] is None:
        span = "empty"
    else:
        span = "%s record%s, %s .. %s (%s)" % (
            format(d["records"], ","),
            "" if d["records"] == 1 else "s",
            _fmt_ts(d["first"], unit),
            _fmt_ts(d["last"], unit),
            _fmt_duration(d["last"] - d["first"], unit),
        )
    return "<%s %s, time_unit=%r; layers: memtable=%d memruns=%d L0=%d L1=%d>" % (
        name,
        span,
        unit,
        d["memtable"],
        d["memruns"],
        d["l0"],
        d["l1"],
    )


def _repr_html(
    name: str, d: Mapping[str, Any] | None, unit: str, maintenance: str, busy_policy: str
) -> str:
    """_repr_html_() of a log from its summary d (None: closed), all escaped."""
    esc = html.escape
    if d is None:
        return (
            '<table class="timelog-repr"><caption>%s</caption>'
            "<tr><th>state</th><td>closed</td></tr></table>" % (esc(name),)
        )
    rows = [("records", format(d["records"], ","))]
    if d["first"] is not None:
        rows += [
            ("first", _fmt_ts(d["first"], unit)),
            ("last", _fmt_ts(d["last"], unit)),
            ("span", _fmt_duration(d["last"] - d["first"], unit)),
        ]
    rows += [
        ("time_unit", unit),
        (
            "memtable",
            "%s records (%s out of order)"
            % (format(d["memtable"], ","), format(d["memtable_ooo"], ",")),
        ),
        ("memruns", str(d["memruns"])),
        ("L0 segments", str(d["l0"])),
        ("L1 segments", str(d["l1"])),
        ("tombstones", str(d["tombstones"])),
        ("engine memory", _fmt_bytes(d["engine_bytes"])),
        ("maintenance", maintenance),
        ("busy_policy", busy_policy),
    ]
    body = "".join(
        '<tr><th style="text-align:left">%s</th><td style="text-align:left">%s</td></tr>'
        % (esc(k), esc(str(v)))
        for k, v in rows
    )
    return '<table class="timelog-repr"><caption>%s</caption>%s</table>' % (esc(name), body)

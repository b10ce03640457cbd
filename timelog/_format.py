"""timelog._format: how a Timelog shows itself (repr, Jupyter HTML), in pure Python.

timelog._core gathers the numbers (one ``tl_stats()`` call, ``_log_summary``
in _stats.pxi) and the previewed records (``_log_preview`` in _preview.pxi);
everything here only formats them.
"""

from __future__ import annotations

import html
import reprlib
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np

_LEVEL_NAMES = {0: "memrun", 1: "L0", 2: "L1"}
_UNIT_NS = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_I64_MIN = -(2**63)

# A previewed payload's repr is cut to this many characters: a preview row
# is one line, whatever the payload (a long string, a big dict, an array).
PREVIEW_WIDTH = 80


def _repr_failed(obj: object, e: BaseException) -> str:
    """The placeholder for an object whose __repr__ raised (or returned a non-str)."""
    try:
        kind = type(obj).__name__
    except Exception:
        kind = "object"
    return "<%s: repr() raised %s>" % (kind, type(e).__name__)


class _PayloadRepr(reprlib.Repr):
    """reprlib bounds the work as well as the width for the built-in
    containers and strings (a dict of a million keys is not formatted whole
    just to be cut); any other object gets its own __repr__, called once.

    reprlib's own fallback for a failing __repr__ prints id(obj), an
    address that differs on every run; ours names the type and the error.
    """

    def repr_instance(self, x: object, level: int) -> str:
        try:
            text = repr(x)
        except Exception as e:
            return _repr_failed(x, e)
        return text if len(text) <= self.maxother else text[: self.maxother]


_PAYLOAD_REPR = _PayloadRepr()

# What _log_preview (timelog/_preview.pxi) returns for an open log:
# (records in the snapshot, the first (ts, obj) pairs, the last ones).
Preview = tuple[int, Sequence[tuple[int, object]], Sequence[tuple[int, object]]]
_PAYLOAD_REPR.maxstring = PREVIEW_WIDTH
_PAYLOAD_REPR.maxother = 10 * PREVIEW_WIDTH  # cut below, at the end, not in the middle
_PAYLOAD_REPR.maxdict = 8
_PAYLOAD_REPR.maxlist = _PAYLOAD_REPR.maxtuple = _PAYLOAD_REPR.maxset = 12
_PAYLOAD_REPR.maxlevel = 3


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


def _payload_repr(obj: object, width: int = PREVIEW_WIDTH) -> str:
    """A payload as one line of at most width characters; never raises.

    A payload whose __repr__ raises (or returns a non-str) shows as a
    placeholder naming its type and the exception: a repr of the log must
    not fail because of one stored object.
    """
    try:
        text = _PAYLOAD_REPR.repr(obj)
    except Exception as e:
        return _repr_failed(obj, e)
    text = " ".join(text.split()) if "\n" in text or "\r" in text else text
    if len(text) > width:
        text = text[: width - 1] + "\u2026"
    return text


def _preview_html(preview: Preview, unit: str) -> str:
    """The preview table under the summary: first and last records, ISO times.

    preview is (total, head, tail) from _log_preview; an ellipsis row counts
    the records between head and tail. Every cell is escaped.
    """
    total, head, tail = preview
    esc = html.escape
    left = "text-align:left;font-family:monospace"

    def row(ts: int, obj: object) -> str:
        return '<tr><td style="%s">%s</td><td style="%s">%s</td></tr>' % (
            left,
            esc(_fmt_ts(ts, unit)),
            left,
            esc(_payload_repr(obj)),
        )

    rows = [row(ts, obj) for ts, obj in head]
    hidden = total - len(head) - len(tail)
    if hidden > 0:
        rows.append(
            '<tr><td colspan="2" style="text-align:center">\u2026 %s more record%s \u2026</td></tr>'
            % (format(hidden, ","), "" if hidden == 1 else "s")
        )
    rows += [row(ts, obj) for ts, obj in tail]
    return (
        '<table class="timelog-preview"><thead><tr><th style="text-align:left">ts</th>'
        '<th style="text-align:left">value</th></tr></thead><tbody>%s</tbody></table>'
        % ("".join(rows),)
    )


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
    name: str,
    d: Mapping[str, Any] | None,
    unit: str,
    maintenance: str,
    busy_policy: str,
    preview: Preview | None = None,
) -> str:
    """_repr_html_() of a log from its summary d (None: closed), all escaped.

    With a non-empty preview (see _preview_html), its table follows the
    summary's.
    """
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
    out = '<table class="timelog-repr"><caption>%s</caption>%s</table>' % (esc(name), body)
    if preview is not None and preview[0] > 0:
        out += _preview_html(preview, unit)
    return out

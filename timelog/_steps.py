"""Steps (bucket and window widths) given as durations, converted to ticks.

``counts()``, ``histogram(step=...)`` and ``windows()`` take a step as an int
in the log's ``time_unit`` or as a duration: a ``datetime.timedelta`` (a
``pandas.Timedelta`` too, nanoseconds included), a ``numpy.timedelta64`` of
any fixed unit, or a fixed-frequency pandas offset string such as ``"1min"``,
``"250ms"`` or ``"1h30min"`` (or a pandas ``Tick`` offset, through its
``freqstr``). Everything is converted with exact integer arithmetic: a
duration that is not a whole number of ``time_unit`` ticks is a ValueError,
never a silently rounded bucket width (rounded widths would drift the bucket
edges away from the boundaries the caller named).

Pure Python on purpose: it runs once per call, never per record, and pandas
is never imported (the strings are parsed here, following pandas' aliases).
"""

import datetime as _dt
import operator as _operator
import re as _re
from fractions import Fraction as _Fraction

import numpy as _np

__all__ = ["step_to_units"]

# Every fixed unit in attoseconds: the finest NumPy unit, so every
# conversion between them is an exact integer ratio.
_AS = {
    "as": 1,
    "fs": 10**3,
    "ps": 10**6,
    "ns": 10**9,
    "us": 10**12,
    "ms": 10**15,
    "s": 10**18,
    "m": 60 * 10**18,
    "h": 3600 * 10**18,
    "D": 86400 * 10**18,
    "W": 7 * 86400 * 10**18,
}

# pandas' fixed-frequency ("Tick") aliases, current and legacy spellings.
_STR_UNITS = {
    "ns": "ns",
    "N": "ns",
    "us": "us",
    "\u00b5s": "us",
    "\u03bcs": "us",
    "U": "us",
    "ms": "ms",
    "L": "ms",
    "s": "s",
    "S": "s",
    "min": "m",
    "T": "m",
    "h": "h",
    "H": "h",
    "D": "D",
}

# Calendar (or business-calendar) aliases: their length depends on where
# they start, so no fixed bucket width can express them.
_CALENDAR = {
    "M": "a month",
    "ME": "a month",
    "MS": "a month",
    "BM": "a month",
    "BME": "a month",
    "BMS": "a month",
    "CBM": "a month",
    "CBME": "a month",
    "CBMS": "a month",
    "SM": "half a month",
    "SME": "half a month",
    "SMS": "half a month",
    "Q": "a quarter",
    "QE": "a quarter",
    "QS": "a quarter",
    "BQ": "a quarter",
    "BQE": "a quarter",
    "BQS": "a quarter",
    "Y": "a year",
    "YE": "a year",
    "YS": "a year",
    "A": "a year",
    "AS": "a year",
    "BA": "a year",
    "BAS": "a year",
    "BY": "a year",
    "BYE": "a year",
    "BYS": "a year",
    "W": "a week anchored on a weekday",
    "WOM": "a week of the month",
    "LWOM": "a week of the month",
    "B": "a business day",
    "C": "a custom business day",
    "BH": "a business hour",
    "CBH": "a custom business hour",
}

_TOKEN = _re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)?\s*([A-Za-z\u00b5\u03bc]+)")
_NUMBER = _re.compile(r"^\s*[+-]?(\d+(?:\.\d*)?|\.\d+)\s*$")
_ANCHOR = _re.compile(r"^\s*[+-]?\s*(\d+)?\s*([A-Za-z]+)-")


def _refuse_calendar(what, text, name):
    raise ValueError(
        "%s %r is a calendar offset (%s), not a fixed length: its duration depends "
        "on the date it starts at, so it cannot be a bucket width. Use a fixed "
        "frequency ('1D', '7D', '1h', ...) or compute calendar boundaries yourself "
        "and call count(t1, t2) per interval" % (what, text, _CALENDAR.get(name, name))
    )


def _parse_offset(text, what):
    """A fixed-frequency offset string -> (attoseconds as a Fraction, sign)."""
    s = text.strip()
    m = _ANCHOR.match(s)
    if m is not None and m.group(2) in _CALENDAR:
        # "W-MON", "Q-DEC", "2A-JAN": anchored offsets are calendar ones.
        _refuse_calendar(what, text, m.group(2))
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    total = _Fraction(0)
    pos = 0
    if not s.strip():
        raise ValueError(
            "%s %r is empty: give a frequency such as '1min' or '250ms'" % (what, text)
        )
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None:
            break
        num, name = m.group(1), m.group(2)
        if name in _CALENDAR:
            _refuse_calendar(what, text, name)
        unit = _STR_UNITS.get(name)
        if unit is None:
            raise ValueError(
                "%s %r: unknown unit %r; fixed frequencies use ns, us, ms, "
                "s, min (T), h (H) or D, e.g. '250ms' or '1h30min'" % (what, text, name)
            )
        total += (_Fraction(num) if num is not None else 1) * _AS[unit]
        pos = m.end()
        if s[pos : pos + 1] == "-":  # an anchor after a fixed unit ("1D-MON")
            break
    if s[pos:].strip():
        raise ValueError(
            "%s %r is not a frequency this log understands: use a number "
            "and a unit among ns, us, ms, s, min (T), h (H), D, e.g. "
            "'250ms' or '1h30min'" % (what, text)
        )
    return total * sign


def _fmt_value(step):
    if isinstance(step, str):
        return repr(step)
    return "%r" % (step,)


def _exact(what, step, attos, unit):
    """attos (a Fraction of attoseconds) as a whole number of unit ticks."""
    per = _AS[unit]
    if attos <= 0:
        raise ValueError("%s must be a positive duration, got %s" % (what, _fmt_value(step)))
    q = attos / per
    if q.denominator != 1:
        raise ValueError(
            "%s %s is not a whole number of %s ticks (this log's time_unit is %r): "
            "it is %s %s; pass a multiple of one %s"
            % (what, _fmt_value(step), unit, unit, float(q), unit, unit)
        )
    return q.numerator


def step_to_units(step, unit, what):
    """``step`` as an int number of ``unit`` ticks (``unit``: "s", "ms", "us", "ns").

    Int-likes (and bools) are returned unchanged: the caller's own
    validation (positive int, bool refused) keeps its messages and order.
    """
    if isinstance(step, (bool, _np.bool_)):
        return step  # the caller refuses it (TypeError)
    # timedelta64 first: NumPy makes it a subclass of numpy.integer.
    if isinstance(step, _np.timedelta64):
        return _exact(what, step, _attos_timedelta64(step, what), unit)
    if isinstance(step, (int, _np.integer)):
        return step
    if isinstance(step, _dt.timedelta):
        asm8 = getattr(step, "asm8", None)  # pandas.Timedelta: keep its nanoseconds
        if isinstance(asm8, _np.timedelta64):
            return _exact(what, step, _attos_timedelta64(asm8, what), unit)
        us = (step.days * 86400 + step.seconds) * 10**6 + step.microseconds
        return _exact(what, step, _Fraction(us * _AS["us"]), unit)
    if isinstance(step, str):
        if _NUMBER.match(step):
            # A number without a unit is a str where an int was meant (TypeError,
            # as before strings were accepted), not a frequency.
            raise TypeError(
                "%s must be an int or a duration, got the string %r: a "
                "number without a unit (pass %s as an int, or a frequency "
                "such as '%sms')" % (what, step, step.strip(), step.strip())
            )
        return _exact(what, step, _parse_offset(step, what), unit)
    freq = getattr(step, "freqstr", None)
    if isinstance(freq, str):  # a pandas DateOffset: its alias says what it is
        return _exact(what, step, _parse_offset(freq, what), unit)
    if hasattr(type(step), "__index__"):
        return _operator.index(step)
    raise TypeError(
        "%s must be an int in time_unit, a datetime.timedelta, a numpy.timedelta64 or "
        "a fixed frequency string such as '1min', got %s (%r)" % (what, type(step).__name__, step)
    )


def _attos_timedelta64(td, what):
    if _np.isnat(td):
        raise ValueError("%s is NaT (not a time): give a duration" % (what,))
    name, count = _np.datetime_data(td.dtype)
    if name in ("Y", "M"):
        raise ValueError(
            "%s %r is in calendar unit %r (a %s), not a fixed length: its duration "
            "depends on the date; use days ('D') or a finer unit"
            % (what, td, name, "year" if name == "Y" else "month")
        )
    if name == "generic":
        raise ValueError("%s %r has no unit: write e.g. numpy.timedelta64(5, 's')" % (what, td))
    return _Fraction(int(td.astype(_np.int64)) * count * _AS[name])

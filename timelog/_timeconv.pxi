# _timeconv.pxi (included by _core.pyx): timestamps into int64 ticks of a
# log's time_unit: Python ints, datetime.datetime, numpy.datetime64 and
# pandas.Timestamp scalars (_ts), and whole arrays of them
# (_as_int64_timestamps), always exact; and the wall clock in a unit.

# ---------------------------------------------------------------- timestamps

_TS_HELP = ("timestamps are integers (int64) in the log's time_unit, or "
            "datetime.datetime / numpy.datetime64 / pandas.Timestamp values")

# Lengths of datetime64 units in attoseconds, so that every conversion between
# two fixed-length units is exact integer arithmetic (a ratio of two of these).
# "Y" and "M" are calendar units: they go through days first.
_DT64_AS = {
    "as": 1, "fs": 10**3, "ps": 10**6, "ns": 10**9, "us": 10**12, "ms": 10**15,
    "s": 10**18, "m": 60 * 10**18, "h": 3600 * 10**18, "D": 86400 * 10**18,
    "W": 7 * 86400 * 10**18,
}
_UNIT_AS = {TL_UNIT_S: 10**18, TL_UNIT_MS: 10**15, TL_UNIT_US: 10**12, TL_UNIT_NS: 10**9}
# Beyond this many years (or months) from 1970 no time_unit can hold the value,
# and the calendar conversion to days could itself overflow int64.
_CALENDAR_LIMIT = 10**15

_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


cdef int64_t _ts_from_int(object x) except? -1:
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(x, &overflow)
    if overflow != 0:
        raise OverflowError(
            "timestamp %d is outside the int64 range [-2**63, 2**63-1]" % x)
    return <int64_t> v


cdef int64_t _ts_converted(object v, object what, int unit) except? -1:
    """Range-checks v, a timestamp (Python int) converted from what."""
    if v < _I64_MIN or v > _I64_MAX:
        raise OverflowError(
            "%r is %d in time_unit=%r, outside the int64 range [-2**63, 2**63-1]"
            % (what, v, _UNIT_NAMES[unit]))
    return <int64_t> v


cdef int64_t _ts_datetime64(object x, int unit) except? -1:
    """numpy.datetime64 -> the log's unit, from its integer value and unit.

    Exact: v * len(src unit) // len(log unit) on Python ints (floor, so a
    finer value lands in the log-unit tick that contains it).
    """
    name, count = _np.datetime_data(x.dtype)
    if _np.isnat(x):
        raise ValueError("NaT (not-a-time) is not a timestamp")
    if name == "generic":
        raise TypeError("numpy.datetime64 without a unit is not a timestamp; "
                        "give it one, e.g. np.datetime64(v, 'ms')")
    v = int(x.astype(_np.int64))
    if name == "Y" or name == "M":
        if abs(v) * count > _CALENDAR_LIMIT:
            raise OverflowError("%r is outside the int64 range in time_unit=%r"
                                % (x, _UNIT_NAMES[unit]))
        v = int(x.astype("M8[D]").astype(_np.int64))
        name, count = "D", 1
    return _ts_converted(v * count * _DT64_AS[name] // _UNIT_AS[unit], x, unit)


cdef int64_t _ts_datetime(object x, int unit) except? -1:
    """datetime.datetime -> the log's unit; naive values are UTC.

    Exact: computed from the timedelta to the epoch (days, seconds,
    microseconds), never through a float timestamp(). Units coarser than a
    microsecond floor. A pandas.Timestamp (a datetime subclass that may carry
    nanoseconds) goes through its numpy.datetime64 value, which is UTC.
    """
    if type(x) is not _dt.datetime:
        asm8 = getattr(x, "asm8", None)
        if isinstance(asm8, _np.datetime64):
            return _ts_datetime64(asm8, unit)
    if x.utcoffset() is None:
        d = x - _EPOCH_NAIVE
    else:
        d = x - _EPOCH_UTC
    us = (d.days * 86400 + d.seconds) * 1000000 + d.microseconds
    if unit == TL_UNIT_S:
        v = us // 1000000
    elif unit == TL_UNIT_MS:
        v = us // 1000
    elif unit == TL_UNIT_US:
        v = us
    else:
        v = us * 1000
    return _ts_converted(v, x, unit)


cdef int64_t _ts_slow(object x, int unit) except? -1:
    if isinstance(x, (bool, _np.bool_)):
        raise TypeError("%s; got a bool (%r)" % (_TS_HELP, x))
    if isinstance(x, _dt.datetime):
        return _ts_datetime(x, unit)
    if isinstance(x, _np.datetime64):
        return _ts_datetime64(x, unit)
    if isinstance(x, _dt.date):
        raise TypeError("%s; got a datetime.date (%r): use a datetime.datetime, "
                        "e.g. datetime.datetime(d.year, d.month, d.day)" % (_TS_HELP, x))
    if isinstance(x, (_dt.timedelta, _np.timedelta64)):
        raise TypeError("%s; got a duration (%s, %r), not a point in time"
                        % (_TS_HELP, type(x).__name__, x))
    if PyIndex_Check(x):
        return _ts_from_int(_operator.index(x))
    raise TypeError("%s; got %s (%r)" % (_TS_HELP, type(x).__name__, x))


cdef inline int64_t _ts(object x, int unit) except? -1:
    """Converts a timestamp for a log of the given time_unit.

    The exact-int fast path comes first and does not look at the unit. Then:
    anything with __index__ (numpy integers); datetime.datetime (naive = UTC),
    pandas.Timestamp and numpy.datetime64, converted exactly into the unit.
    bool, float, str, None, date, timedelta -> TypeError; NaT -> ValueError;
    outside int64 -> OverflowError.
    """
    if type(x) is int:
        return _ts_from_int(x)
    return _ts_slow(x, unit)


# ---------------------------------------------------------------- timestamp arrays

cdef object _dt64_array_to_unit(object arr, int unit):
    """A datetime64 ndarray -> a new int64 ndarray in the log's unit (exact)."""
    name, count = _np.datetime_data(arr.dtype)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    v = arr.view(_np.int64)
    if v.size == 0:
        return _np.empty(0, dtype=_np.int64)
    nat = _np.flatnonzero(v == _I64_MIN)
    if nat.size:
        raise ValueError("bulk_append(): timestamps[%d] is NaT (not-a-time), which is "
                         "not a timestamp; nothing was stored" % (nat[0],))
    if name == "generic":
        raise TypeError("bulk_append(): datetime64 timestamps need a unit (got %s)"
                        % (arr.dtype,))
    if name == "Y" or name == "M":
        if max(abs(int(v.min())), abs(int(v.max()))) * count > _CALENDAR_LIMIT:
            raise OverflowError("bulk_append(): %s timestamps outside the int64 range "
                                "in time_unit=%r" % (arr.dtype, _UNIT_NAMES[unit]))
        v = arr.astype("M8[D]").view(_np.int64)
        name, count = "D", 1
    num = count * _DT64_AS[name]
    den = _UNIT_AS[unit]
    g = _math.gcd(num, den)
    num //= g
    den //= g
    if den == 1:
        # Coarser source unit: multiply, after checking the result fits.
        lo, hi = int(v.min()), int(v.max())
        if lo * num < _I64_MIN or hi * num > _I64_MAX:
            bad = lo if lo * num < _I64_MIN else hi
            raise OverflowError(
                "bulk_append(): %s value %d is %d in time_unit=%r, outside the int64 "
                "range [-2**63, 2**63-1]; nothing was stored"
                % (arr.dtype, bad, bad * num, _UNIT_NAMES[unit]))
        return v * _np.int64(num) if num != 1 else v
    if num == 1:
        # Finer source unit: floor division cannot overflow.
        return _np.floor_divide(v, _np.int64(den))
    # A unit with a multiplier that neither divides nor is divided by the log's
    # unit (e.g. datetime64[7ms] into seconds): rare, so exact Python ints.
    out = [x * num // den for x in v.tolist()]
    for x in out:
        if x < _I64_MIN or x > _I64_MAX:
            raise OverflowError("bulk_append(): %s value converts to %d in "
                                "time_unit=%r, outside the int64 range"
                                % (arr.dtype, x, _UNIT_NAMES[unit]))
    return _np.array(out, dtype=_np.int64)


cdef bint _is_tz_datetimes(object x):
    """A tz-aware pandas DatetimeIndex / Series / DatetimeArray (dtype
    DatetimeTZDtype), which NumPy would turn into an object array."""
    dt = getattr(x, "dtype", None)
    return (type(dt).__name__ == "DatetimeTZDtype" and getattr(dt, "tz", None) is not None
            and hasattr(x, "array"))


cdef object _tz_datetimes_utc(object x):
    """Its instants as datetime64[its unit] (UTC), without a copy: a tz-aware
    pandas column stores UTC int64 values (asi8), the zone is display only.
    NaT stays NaT (int64 min), which the datetime64 path reports."""
    return _np.asarray(x.array.asi8).view("M8[%s]" % (getattr(x.dtype, "unit", "ns"),))


cdef bint _is_arrow_column(object x):
    """Arrow data (the PyCapsule interface) that NumPy does not describe
    itself: a pandas Series has both, and its own dtype is the better guide."""
    kind = type(x)
    if not (hasattr(kind, "__arrow_c_array__") or hasattr(kind, "__arrow_c_stream__")):
        return False
    if isinstance(getattr(x, "dtype", None), _np.dtype):
        return False
    # Without pyarrow an object that also has __array__ still goes through NumPy.
    return (not hasattr(kind, "__array__")
            or _importlib.import_module("timelog._arrow_in").have_pyarrow())


cdef object _as_int64_timestamps(object x, int unit):
    """Any 1-D buffer of timestamps -> an object exposing a native int64 buffer.

    Returns x itself (no copy) when it already is one. Lossless integer
    dtypes are converted, datetime64 goes through the log's unit, and every
    other dtype raises TypeError naming it.
    """
    if isinstance(x, _np.ndarray):
        arr = x
    elif PyObject_CheckBuffer(x):
        # Through memoryview so that only the buffer protocol decides the
        # dtype (np.asarray(b"...") would make a 0-d bytes array instead).
        arr = _np.asarray(memoryview(x))     # a view of the buffer, not a copy
    elif _is_tz_datetimes(x):
        arr = _tz_datetimes_utc(x)
    elif _is_arrow_column(x):
        # pyarrow arrays, Polars Series...: nulls and types are checked there
        # (timelog/_arrow_in.py); the unit conversion is the datetime64 one below.
        arr = _importlib.import_module("timelog._arrow_in").timestamp_column(
            x, unit=_UNIT_NAMES[unit])
    elif hasattr(type(x), "__array__"):
        arr = _np.asarray(x)     # pandas Series / DatetimeIndex and the like
    else:
        raise TypeError("bulk_append(): timestamps must be a 1-D buffer of int64 "
                        "(a NumPy array, array('q'), memoryview, or an object with "
                        "__array__), got %s; use extend() for other iterables"
                        % (type(x).__name__,))
    if arr.ndim != 1:
        raise ValueError("bulk_append(): timestamps must be 1-D, got %d dimensions"
                         % (arr.ndim,))
    dt = arr.dtype
    kind = dt.kind
    if kind == "i":
        if dt.itemsize == 8 and dt.isnative:
            return arr
        return arr.astype(_np.int64)
    if kind == "u":
        if dt.itemsize < 8:
            return arr.astype(_np.int64)
        if arr.size and int(arr.max()) > _I64_MAX:
            raise TypeError("bulk_append(): timestamps of dtype %s hold values above "
                            "2**63-1 (max %d), which int64 cannot represent; "
                            "nothing was stored" % (dt, int(arr.max())))
        return arr.astype(_np.int64)
    if kind == "M":
        return _dt64_array_to_unit(arr, unit)
    raise TypeError("bulk_append(): timestamps of dtype %s cannot be converted to int64 "
                    "without loss; pass integers or datetime64 (nothing was stored)"
                    % (dt,))


cdef int64_t _wall_clock(int unit) noexcept:
    cdef int64_t sec = 0
    cdef int32_t nsec = 0
    tl_wall_clock(&sec, &nsec)  # cannot fail on a system clock after 1970
    if unit == TL_UNIT_S:
        return sec
    if unit == TL_UNIT_MS:
        return sec * 1000 + nsec // 1000000
    if unit == TL_UNIT_US:
        return sec * 1000000 + nsec // 1000
    return sec * 1000000000 + nsec

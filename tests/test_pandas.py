"""Timelog.to_pandas(): a DataFrame indexed by time, built from arrays()."""

import datetime
import sys

import numpy as np
import pytest

from timelog import Timelog, TimelogError


def test_missing_pandas_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    log = Timelog(maintenance="disabled")
    with pytest.raises(ImportError, match="pip install pandas"):
        log.to_pandas()
    log.close()


def test_closed_log_without_pandas_says_closed(monkeypatch):
    # The closed-log error comes first: it is the problem to fix, and it
    # must not depend on what happens to be installed.
    monkeypatch.setitem(sys.modules, "pandas", None)
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        log.to_pandas()


pd = pytest.importorskip("pandas")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_index_converted_by_time_unit(unit):
    log = Timelog(time_unit=unit, maintenance="disabled")
    when = datetime.datetime(2024, 1, 1, 12, 30)
    log[when] = {"event": "a"}
    log[when] = {"event": "b"}
    df = log.to_pandas()
    assert list(df.columns) == ["value"]
    assert isinstance(df.index, pd.DatetimeIndex) and df.index.name == "ts"
    assert list(df.index) == [pd.Timestamp(when)] * 2
    assert df["value"].tolist() == [{"event": "a"}, {"event": "b"}]
    log.close()


def test_range_and_identity():
    log = Timelog(maintenance="disabled")
    payloads = [[i] for i in range(10)]
    log.extend(zip(range(10), payloads))
    df = log.to_pandas(2, 5)
    assert df.index.asi8.tolist() == [2, 3, 4]
    assert all(a is b for a, b in zip(df["value"], payloads[2:5]))
    assert df["value"].dtype == object
    assert len(log.to_pandas(5, 2)) == 0  # empty range
    assert len(log.to_pandas(None, 3)) == 3 and len(log.to_pandas(8)) == 2
    log.close()


def test_matches_arrays_and_numeric_payloads():
    log = Timelog(time_unit="ms", maintenance="disabled")
    ts = np.arange(0, 60_000, 250, dtype=np.int64)
    log.bulk_append(ts, [float(i) for i in range(len(ts))])
    df = log.to_pandas()
    a_ts, a_objs = log.arrays()
    assert (df.index.asi8 == a_ts).all() and df["value"].tolist() == a_objs
    per_10s = df["value"].infer_objects().resample("10s").count()
    assert per_10s.tolist() == [40] * 6
    log.close()


def test_empty_and_closed():
    log = Timelog(maintenance="disabled")
    df = log.to_pandas()
    assert df.shape == (0, 1) and df.index.name == "ts"
    log.close()
    from timelog import TimelogError

    with pytest.raises(TimelogError):
        log.to_pandas()

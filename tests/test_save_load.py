"""Timelog.save() / Timelog.load() (issue 18, item 4): Parquet and Arrow IPC.

Every round trip is compared record by record with ``list(log)``, payload
types included (1 and 1.0 are equal but not the same payload).
"""

import datetime as dt
import inspect
import json
import os
import pickle
import struct
from fractions import Fraction

import numpy as np
import pytest

from timelog import Timelog

pa = pytest.importorskip("pyarrow", reason="pyarrow is not installed (requirements-dev.txt)")
pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow has no parquet support")

SUFFIXES = [".parquet", ".arrow"]
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def typed(records):
    return [(t, type(v), v) for t, v in records]


def same(a, b):
    """Record by record, payload types included (NaN compared as NaN)."""
    a, b = list(a), list(b)
    assert len(a) == len(b)
    for (ta, va), (tb, vb) in zip(a, b):
        assert ta == tb and type(va) is type(vb)
        if isinstance(va, float) and va != va:
            assert vb != vb
        else:
            assert va == vb


def round_trip(log, path, **kw):
    log.save(path, **kw)
    return Timelog.load(path)


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


PAYLOADS = {
    "int": ([1, -(2**63), 2**63 - 1, None, 0], "int"),
    "float": ([1.5, float("nan"), -0.0, float("inf"), None], "float"),
    "bool": ([True, False, None, True, True], "bool"),
    "str": (["a", "", "é€", None, "x" * 1000], "str"),
    "bytes": ([b"a", b"", b"\x00\xff", None, b"z"], "bytes"),
    "none": ([None] * 5, "null"),
    "mixed-numbers": ([1, 2.5, 3, None, True], "pickle"),
    "dicts": ([{"a": 1}, {"b": [1, 2]}, None, {}, {"a": {"n": 1}}], "pickle"),
    "objects": ([Fraction(1, 3), Point(1, 2), (1, "t"), dt.date(2024, 1, 1), 3 + 4j], "pickle"),
    "big-int": ([2**64, 1, 2, 3, 4], "pickle"),
    "subclass": ([np.float64(1.5), 2.5, 3.5, 4.5, 5.5], "pickle"),
}


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_every_payload_kind_round_trips(tmp_path, suffix, kind):
    values, stored_as = PAYLOADS[kind]
    path = tmp_path / ("log" + suffix)
    with Timelog(time_unit="us", maintenance="disabled") as log:
        # duplicates (ts 5 three times) and out-of-order writes
        log.extend(zip([5, 1, 5, I64_MIN, 5], values))
        log.flush()
        with round_trip(log, path) as back:
            same(back, log)
            assert back.time_unit == "us"
        meta = (
            json.loads(pq.read_schema(path).metadata[b"timelog"])
            if suffix == ".parquet"
            else json.loads(pa.ipc.open_file(str(path)).schema.metadata[b"timelog"])
        )
        assert meta["payload"] == stored_as and meta["rows"] == 5


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_units_extremes_and_settings(tmp_path, suffix, unit):
    path = tmp_path / ("log" + suffix)
    with Timelog(
        time_unit=unit,
        maintenance="disabled",
        busy_policy="flush",
        window_size=1000,
        compaction={"max_inputs": 3},
        min_ts=I64_MIN + 1,
    ) as log:
        log.extend([(I64_MAX, "max"), (I64_MIN + 1, "min"), (0, "zero"), (I64_MAX, "max2")])
        with round_trip(log, path) as back:
            same(back, log)
            assert back.time_unit == unit and back.busy_policy == "flush"
            assert back.maintenance_mode == "disabled"
            assert back.min_ts_floor == log.min_ts_floor
            with pytest.raises(ValueError, match="min_ts guard"):
                back.append(I64_MIN, "below the guard")
        table = (
            pq.read_table(path) if suffix == ".parquet" else pa.ipc.open_file(str(path)).read_all()
        )
        assert table.column_names == ["ts", "value"]


def test_int64_min_timestamp_is_not_nat(tmp_path):
    # -2**63 is NumPy's NaT but a valid timelog timestamp
    for suffix in SUFFIXES:
        with Timelog(maintenance="disabled") as log:
            log.extend([(I64_MIN, "a"), (I64_MIN, "b")])
            with round_trip(log, tmp_path / ("x" + suffix)) as back:
                same(back, log)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_log_deletes_and_ranges(tmp_path, suffix):
    path = tmp_path / ("log" + suffix)
    with Timelog(maintenance="disabled") as log:
        with round_trip(log, path) as back:
            assert list(back) == [] and len(back) == 0
        log.extend((t, t * 1.5) for t in range(100))
        log.flush()
        del log[10:20]
        log.delete(50)
        log[15] = "after the delete"
        log.compact()
        del log[90:]
        with round_trip(log, path) as back:
            same(back, log)
            assert len(back) == 100 - 10 - 1 + 1 - 10
        log.save(path, 15, 60)
        with Timelog.load(path) as back:
            same(back, log[15:60])
        log.save(path, dt.datetime(1970, 1, 1), 3)  # datetime bounds too
        with Timelog.load(path) as back:
            same(back, log[0:3])


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_payload_options(tmp_path, suffix):
    path = tmp_path / ("log" + suffix)
    with Timelog(maintenance="disabled") as log:
        log.extend([(1, 1.5), (2, 2.5)])
        log.save(path, payload="pickle")
        with Timelog.load(path) as back:
            same(back, log)
        with Timelog.load(path, unpickle=False) as back:
            assert [pickle.loads(v) for _, v in back] == [1.5, 2.5]
        log.save(path, payload=None)
        with Timelog.load(path) as back:
            assert list(back) == [(1, None), (2, None)]
        with pytest.raises(ValueError, match="payload='columns'"):
            log.save(path, payload="columns")


def test_unpicklable_payload_raises_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "log.parquet"
    with Timelog(maintenance="disabled") as log:
        log.extend([(1, "a")])
        log.save(path)
        before = path.read_bytes()
        log.append(7, lambda: None)
        with pytest.raises(TypeError, match=r"row 1 \(ts=7\) cannot be pickled"):
            log.save(path)
        assert path.read_bytes() == before
        assert sorted(os.listdir(tmp_path)) == ["log.parquet"]  # no temp file left


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_tz_aware_and_naive_inputs(tmp_path, suffix):
    pd = pytest.importorskip("pandas", reason="pandas is not installed (requirements-dev.txt)")
    path = tmp_path / ("log" + suffix)
    aware = pd.DatetimeIndex(["2024-01-01 01:00", "2024-01-01 02:00"], tz="Europe/Paris")
    naive = aware.tz_convert(None)
    with Timelog(time_unit="ns", maintenance="disabled") as log:
        log.bulk_append(aware, ["aware0", "aware1"])
        log.bulk_append(naive, ["naive0", "naive1"])
        log.append("dt", ts=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
        with round_trip(log, path) as back:
            same(back, log)
            at = pd.Timestamp("2024-01-01 00:00", tz="UTC")
            assert sorted(back[at]) == ["aware0", "dt", "naive0"] and back[at] == log[at]
    # every other tool sees UTC timestamps
    table = pq.read_table(path) if suffix == ".parquet" else pa.ipc.open_file(str(path)).read_all()
    assert table.schema.field("ts").type == pa.timestamp("ns", tz="UTC")
    df = table.to_pandas()
    assert str(df["ts"].dt.tz) == "UTC" and df["value"].tolist()[0] == "aware0"


def test_load_overrides_settings_and_unit(tmp_path):
    path = tmp_path / "log.arrow"
    with Timelog(time_unit="s", maintenance="disabled", min_ts=10) as log:
        log.extend([(10, "a"), (20, "b")])
        log.save(path)
    with Timelog.load(path, time_unit="ms", busy_policy="silent") as back:
        assert list(back) == [(10_000, "a"), (20_000, "b")]
        assert back.busy_policy == "silent" and back.min_ts_floor == 10_000
    with pytest.raises(TypeError, match="unexpected keyword"):
        Timelog.load(path, nonsense=1)


def test_other_tools_read_the_file(tmp_path):
    path = tmp_path / "log.parquet"
    with Timelog(time_unit="ms", maintenance="disabled") as log:
        log.extend([(2, 2.5), (1, 1.5), (2, 3.5)])
        log.save(path)
    try:
        import polars as pl
    except ImportError:
        pass
    else:
        df = pl.read_parquet(path)
        assert df["value"].to_list() == [1.5, 2.5, 3.5]
    try:
        import duckdb
    except ImportError:
        pass
    else:
        rows = duckdb.sql("select epoch_ms(ts), value from '%s'" % (path,)).fetchall()
        assert rows == [(1, 1.5), (2, 2.5), (2, 3.5)]
    # and from_arrow reads it as a plain table
    with Timelog.from_arrow(pq.read_table(path)) as back:
        assert list(back) == [(1, 1.5), (2, 2.5), (2, 3.5)]


def test_suffix_and_format(tmp_path):
    with Timelog(maintenance="disabled") as log:
        log.append(1, "a")
        with pytest.raises(ValueError, match=r"\.parquet or \.pq .*format='parquet'"):
            log.save(tmp_path / "log.csv")
        with pytest.raises(ValueError, match="format='xml'"):
            log.save(tmp_path / "log.parquet", format="xml")
        log.save(tmp_path / "log.bin", format="arrow")
        with Timelog.load(tmp_path / "log.bin", format="arrow") as back:
            assert list(back) == [(1, "a")]
        for name in ("a.pq", "a.feather", "a.ipc", "A.PARQUET"):
            log.save(str(tmp_path / name))
            with Timelog.load(str(tmp_path / name)) as back:
                assert list(back) == [(1, "a")]
        with pytest.raises(ValueError, match="not a readable Parquet file.*format='arrow'"):
            Timelog.load(tmp_path / "log.bin", format="parquet")
    with pytest.raises(FileNotFoundError):
        Timelog.load(tmp_path / "missing.parquet")
    (tmp_path / "dir.parquet").mkdir()
    with pytest.raises(IsADirectoryError):
        Timelog.load(tmp_path / "dir.parquet")


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("keep", [0, 8, 100, -12, -1])
def test_truncated_file_is_a_clear_error(tmp_path, suffix, keep):
    path = tmp_path / ("log" + suffix)
    with Timelog(maintenance="disabled") as log:
        log.extend((t, float(t)) for t in range(1000))
        log.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])  # the first bytes, or all but the last
    with pytest.raises(ValueError, match="Timelog.load.*log%s.*nothing was loaded" % suffix):
        Timelog.load(path)


def test_foreign_and_tampered_files(tmp_path):
    foreign = tmp_path / "foreign.parquet"
    pq.write_table(pa.table({"ts": [1, 2], "value": ["a", "b"]}), foreign)
    with pytest.raises(ValueError, match="not written by Timelog.save.*from_arrow"):
        Timelog.load(foreign)
    with Timelog(maintenance="disabled") as log:
        log.extend([(1, "a"), (2, "b")])
        log.save(tmp_path / "ok.parquet")
    table = pq.read_table(tmp_path / "ok.parquet")
    meta = json.loads(table.schema.metadata[b"timelog"])

    def tampered(name, table, **changes):
        m = dict(meta, **changes)
        path = tmp_path / name
        pq.write_table(table.replace_schema_metadata({b"timelog": json.dumps(m)}), path)
        return path

    with pytest.raises(ValueError, match="holds 1 rows where its metadata says 2"):
        Timelog.load(tampered("short.parquet", table.slice(0, 1)))
    with pytest.raises(ValueError, match="newer than this timelog reads"):
        Timelog.load(tampered("new.parquet", table, version=99))
    with pytest.raises(ValueError, match="not Timelog.save's"):
        Timelog.load(tampered("other.parquet", table, format="something"))
    bad_settings = dict(meta["settings"], _fail_alloc={"k": 1})
    with pytest.raises(ValueError, match="unknown settings _fail_alloc"):
        Timelog.load(tampered("private.parquet", table, settings=bad_settings))
    bad_unit = dict(meta["settings"], time_unit="days")
    with pytest.raises(ValueError, match="settings are not valid.*time_unit"):
        Timelog.load(tampered("days.parquet", table, settings=bad_unit, time_unit="days"))
    with pytest.raises(ValueError, match="no valid 'settings'"):
        Timelog.load(tampered("nosettings.parquet", table, settings=None))
    bad = tmp_path / "badjson.parquet"
    pq.write_table(table.replace_schema_metadata({b"timelog": b"{not json"}), bad)
    with pytest.raises(ValueError, match="not valid JSON"):
        Timelog.load(bad)
    nulls = table.set_column(0, "ts", pa.array([1, None], pa.timestamp("ms", tz="UTC")))
    with pytest.raises(ValueError, match="row 1 is null"):
        Timelog.load(tampered("nulls.parquet", nulls))
    pickled = tmp_path / "pickled.parquet"
    with Timelog(maintenance="disabled") as log:
        log.extend([(1, Fraction(1, 2))])
        log.save(pickled)
    t2 = pq.read_table(pickled)
    broken = t2.set_column(
        1, t2.schema.field("value"), pa.array([b"garbage"], t2.schema.field("value").type)
    )
    broken_path = tmp_path / "broken.parquet"
    pq.write_table(broken, broken_path)
    with pytest.raises(ValueError, match="not a valid pickle"):
        Timelog.load(broken_path)


def test_closed_log_and_subclass(tmp_path):
    class My(Timelog):
        pass

    log = My(maintenance="disabled")
    log.append(1, "a")
    log.save(tmp_path / "my.arrow")
    with My.load(tmp_path / "my.arrow") as back:
        assert type(back) is My and list(back) == [(1, "a")]
    log.close()
    from timelog import TimelogError

    with pytest.raises(TimelogError, match="closed"):
        log.save(tmp_path / "closed.arrow")
    assert not (tmp_path / "closed.arrow").exists()


def test_polars_and_duckdb_inputs_saved(tmp_path):
    pl = pytest.importorskip("polars", reason="polars is not installed (requirements-dev.txt)")
    df = pl.DataFrame({"ts": [3, 1, 2], "value": ["c", "a", "b"]})
    with Timelog.from_arrow(df, maintenance="disabled") as log:
        with round_trip(log, tmp_path / "p.parquet") as back:
            assert list(back) == [(1, "a"), (2, "b"), (3, "c")]


def test_without_pyarrow_the_error_says_what_to_install(tmp_path, monkeypatch):
    import sys

    log = Timelog(maintenance="disabled")
    log.append(1, "a")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # a blocked import
    with pytest.raises(ImportError, match="save.*pip install pyarrow"):
        log.save(tmp_path / "x.parquet")
    with pytest.raises(ImportError, match="load.*pip install pyarrow"):
        Timelog.load(tmp_path / "x.parquet")
    with pytest.raises(ImportError, match="from_arrow.*pip install pyarrow"):
        Timelog.from_arrow(object())
    log.bulk_append(np.array([2]), ["b"])  # NumPy input needs no pyarrow
    assert list(log) == [(1, "a"), (2, "b")]
    assert not (tmp_path / "x.parquet").exists()
    log.close()


def test_a_flipped_bit_in_a_parquet_data_page_fails_the_load(tmp_path):
    # Parquet pages carry CRCs (written and verified): without them this flip
    # would load a different float, silently.
    if "page_checksum_verification" not in inspect.signature(pq.ParquetFile).parameters:
        pytest.skip("this pyarrow has no Parquet page checksums (pyarrow >= 14)")
    path = tmp_path / "log.parquet"
    values = np.random.default_rng(18).random(1000).tolist()  # incompressible
    with Timelog(maintenance="disabled") as log:
        log.extend(zip(range(1000), values))
        log.save(path)
    data = bytearray(path.read_bytes())
    at = data.find(struct.pack("<d", values[500]))
    assert at > 0, "the float is stored as is (snappy keeps literals)"
    data[at + 3] ^= 0x10
    path.write_bytes(bytes(data))
    # other readers see the damage too, since the CRCs are standard Parquet
    with pytest.raises(OSError, match="(?i)checksum|crc"):
        pq.ParquetFile(path, page_checksum_verification=True).read()
    with pytest.raises(ValueError, match="damaged or truncated.*nothing was loaded"):
        Timelog.load(path)

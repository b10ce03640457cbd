"""repr() and the Jupyter HTML repr say what is inside a log, an iterator, a span."""

import html
import re

import numpy as np
import pytest

from timelog import Timelog

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def test_repr_records_span_and_layers():
    log = Timelog(time_unit="ms", maintenance="disabled")
    t0 = 1_700_000_000_000
    log.bulk_append(np.arange(t0, t0 + 1_008_000, 1000, dtype=np.int64), [None] * 1008)
    log.flush()
    log[t0 + 1_008_000] = "late"
    text = repr(log)
    assert text.startswith("<Timelog 1,009 records, ")
    assert "2023-11-14T22:13:20.000Z .. 2023-11-14T22:30:08.000Z (16.8 min)" in text
    assert "time_unit='ms'" in text
    assert "layers: memtable=1 memruns=0 L0=1 L1=0" in text
    log.compact()
    assert "memtable=0 memruns=0 L0=0 L1=1" in repr(log)
    log.close()


@pytest.mark.parametrize(
    "unit,delta,human",
    [
        ("ns", 250, "250 ns"),
        ("us", 250, "250 us"),
        ("ms", 250, "250 ms"),
        ("s", 42, "42 s"),
        ("s", 5400, "1.5 h"),
        ("s", 3 * 86400, "3 days"),
        ("s", 0, "0 s"),
        ("ms", 400 * 86400 * 1000, "1.1 years"),
    ],
)
def test_duration_in_human_units(unit, delta, human):
    log = Timelog(time_unit=unit, maintenance="disabled")
    log[0] = "a"
    log[delta] = "b"
    assert "(%s)" % (human,) in repr(log)
    log.close()


def test_repr_empty_closed_subclass_and_extremes():
    class Sub(Timelog):
        pass

    log = Sub(maintenance="disabled", time_unit="ns")
    assert repr(log) == "<Sub empty, time_unit='ns'; layers: memtable=0 memruns=0 L0=0 L1=0>"
    log[INT64_MIN] = 1
    log[INT64_MAX] = 2
    text = repr(log)  # neither end overflows nor raises
    assert "2 records" in text and "int64 min" in text and "2262-04-11T23:47:16.854775807Z" in text
    log.close()
    assert repr(log) == "<Sub closed, time_unit='ns'>"


def test_repr_counts_are_tombstone_aware():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    del log[0:5]
    assert repr(log).startswith("<Timelog 5 records, 1970-01-01T00:00:00.005Z")
    log.close()


def cells(table):
    return dict(re.findall(r"<th[^>]*>(.*?)</th><td[^>]*>(.*?)</td>", table))


def test_html_repr_is_a_small_table_with_content():
    log = Timelog(time_unit="s", maintenance="disabled")
    log.extend([(1_700_000_000, "a"), (1_700_001_008, "b")])
    out = log._repr_html_()
    assert out.startswith("<table") and out.endswith("</table>")
    row = cells(out)
    assert row["records"] == "2"
    assert row["first"] == "2023-11-14T22:13:20Z"
    assert row["last"] == "2023-11-14T22:30:08Z"
    assert row["span"] == "16.8 min"
    assert row["time_unit"] == "s"
    assert row["memtable"].startswith("2 records")
    assert row["L0 segments"] == "0" and row["L1 segments"] == "0"
    assert row["maintenance"] == "disabled"
    log.close()
    assert "closed" in log._repr_html_()


def test_html_repr_escapes_everything():
    class Evil(Timelog):
        pass

    Evil.__name__ = "<script>alert(1)</script>"
    log = Evil(maintenance="disabled")
    log[1] = "<b>payload</b>"
    out = log._repr_html_()
    assert "<script>" not in out
    assert html.escape("<script>alert(1)</script>") in out
    # Every text between tags is escaped: unescaping then re-escaping is stable.
    for text in re.findall(r">([^<]+)<", out):
        assert html.escape(html.unescape(text)) == text
    log.close()


def test_iterator_repr():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    it = log[2:8]
    iso = "= [1970-01-01T00:00:00.002Z, 1970-01-01T00:00:00.008Z)"
    assert repr(it) == "<TimelogIter [2, 8) %s remaining=6>" % iso
    next(it)
    assert repr(it) == "<TimelogIter [2, 8) %s remaining=5>" % iso
    assert (
        repr(log.since(3))
        == "<TimelogIter [3, 2**63-1] = [1970-01-01T00:00:00.003Z, end] remaining=7>"
    )
    assert (
        repr(log.until(3))
        == "<TimelogIter [-2**63, 3) = [start, 1970-01-01T00:00:00.003Z) remaining=3>"
    )
    assert repr(log.all()) == "<TimelogIter all remaining=10>"
    assert repr(log.point(4)) == "<TimelogIter ts == 4 = 1970-01-01T00:00:00.004Z remaining=1>"
    it.close()
    assert repr(it) == "<TimelogIter [2, 8) %s closed>" % iso
    log.close()


def test_iterator_repr_in_every_unit_and_at_the_extremes():
    for unit, iso in [("s", "2023-11-14T22:13:20Z"), ("ns", "2023-11-14T22:13:20.000000000Z")]:
        with Timelog(time_unit=unit, maintenance="disabled") as log:
            t = 1_700_000_000 * (10**9 if unit == "ns" else 1)
            assert repr(log.point(t)) == "<TimelogIter ts == %d = %s remaining=0>" % (t, iso)
    with Timelog(maintenance="disabled") as log:
        text = repr(log[INT64_MIN:INT64_MAX])  # neither end raises
        assert "int64 min" in text and "closed" not in text


def test_iterator_and_span_html_reprs():
    log = Timelog(time_unit="s", maintenance="disabled")
    log.extend((t, "<b>%d</b>" % t) for t in range(1_700_000_000, 1_700_000_010))
    it = log[1_700_000_002:1_700_000_008]
    out = it._repr_html_()
    assert out.startswith("<table") and out.endswith("</table>")
    row = cells(out)
    assert row["from"] == "1700000002 (2023-11-14T22:13:22Z)"
    assert row["to"] == "1700000008 (2023-11-14T22:13:28Z), exclusive"
    assert row["time_unit"] == "s" and row["remaining"] == "6"
    assert cells(log.since(1_700_000_009)._repr_html_())["to"] == "end (inclusive)"
    assert cells(log.all()._repr_html_())["range"] == "all"
    it.close()
    assert cells(it._repr_html_())["state"] == "closed"
    log.flush()
    span = next(log.views())
    row = cells(span._repr_html_())
    assert row["level"] == "%d (L0)" % span.level
    assert row["records"] == "10"
    assert row["first_ts"] == "1700000000 (2023-11-14T22:13:20Z)"
    assert row["last_ts"] == "1700000009 (2023-11-14T22:13:29Z)"
    span.close()
    assert cells(span._repr_html_())["state"] == "closed"
    for text in re.findall(r">([^<]+)<", out):
        assert html.escape(html.unescape(text)) == text
    log.close()


def test_span_and_span_iterator_repr():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.flush()
    spans = log.views(2, 6)
    assert repr(spans) == "<PageSpanIter open>"
    span = next(spans)
    assert repr(span) == (
        "<PageSpan level=1 (L0) len=4 first_ts=2 (1970-01-01T00:00:00.002Z) "
        "last_ts=5 (1970-01-01T00:00:00.005Z)>"
    )
    assert repr(span.objects()) == "<PageSpanObjectsView n=4>"
    span.close()
    spans.close()
    assert repr(span) == "<PageSpan level=1 (L0) len=4 closed>"
    assert repr(spans) == "<PageSpanIter closed>"
    log.compact()
    span = next(log.views())
    # the number in the repr is span.level; the name after it is the layer
    assert span.level == 2 and "level=2 (L1)" in repr(span)
    log.close()

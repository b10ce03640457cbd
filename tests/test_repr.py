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
    assert repr(it) == "<TimelogIter [2, 8) remaining=6>"
    next(it)
    assert repr(it) == "<TimelogIter [2, 8) remaining=5>"
    assert repr(log.since(3)) == "<TimelogIter [3, 2**63-1] remaining=7>"
    assert repr(log.until(3)) == "<TimelogIter [-2**63, 3) remaining=3>"
    assert repr(log.all()) == "<TimelogIter all remaining=10>"
    assert repr(log.point(4)) == "<TimelogIter ts == 4 remaining=1>"
    it.close()
    assert repr(it) == "<TimelogIter [2, 8) closed>"
    log.close()


def test_span_and_span_iterator_repr():
    log = Timelog(maintenance="disabled")
    log.extend((t, t) for t in range(10))
    log.flush()
    spans = log.views(2, 6)
    assert repr(spans) == "<PageSpanIter open>"
    span = next(spans)
    assert repr(span) == "<PageSpan level=L0 len=4 first_ts=2 last_ts=5>"
    assert repr(span.objects()) == "<PageSpanObjectsView n=4>"
    span.close()
    spans.close()
    assert repr(span) == "<PageSpan level=L0 len=4 closed>"
    assert repr(spans) == "<PageSpanIter closed>"
    log.compact()
    assert "level=L1" in repr(next(log.views()))
    log.close()

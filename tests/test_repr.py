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


def test_span_level_numbering_agrees_in_every_layer():
    # memrun (sealed, not flushed) -> 0, L0 -> 1, L1 -> 2: the number in the
    # repr and the HTML is span.level, the name after it the layer stats() counts.
    log = Timelog(
        maintenance="disabled", memtable_max_bytes=4096, target_page_bytes=1024, sealed_max_runs=64
    )
    log.extend((t, t) for t in range(3000))
    assert log.stats()["storage"]["memruns"] >= 1
    for flush, compact, level, name in [(0, 0, 0, "memrun"), (1, 0, 1, "L0"), (1, 1, 2, "L1")]:
        if flush:
            log.flush()
        if compact:
            log.compact()
        span = next(log.views())
        assert span.level == level
        assert ("level=%d (%s)" % (level, name)) in repr(span)
        assert cells(span._repr_html_())["level"] == "%d (%s)" % (level, name)
        span.close()
    log.close()


# ---------------------------------------------------------------- the log's HTML preview


def preview_rows(out):
    """The (ts, value) cells of the preview table, and the ellipsis text or None."""
    if 'class="timelog-preview"' not in out:
        return None, None
    table = out[out.index('<table class="timelog-preview"') :]
    rows = [
        tuple(html.unescape(c) for c in pair)
        for pair in re.findall(r"<tr><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", table)
    ]
    more = re.search(r'<td colspan="2"[^>]*>([^<]*)</td>', table)
    return rows, (html.unescape(more.group(1)) if more else None)


def iso(ts):
    return str(np.datetime64(ts, "ms")) + "Z"


def test_html_preview_shows_a_small_log_whole():
    log = Timelog(maintenance="disabled")
    log.extend((t, "v%d" % t) for t in (5, 1, 3, 2, 4, 6))
    rows, more = preview_rows(log._repr_html_())
    assert rows == [(iso(t), "'v%d'" % t) for t in range(1, 7)]
    assert more is None
    log.close()


def test_html_preview_first_and_last_three_with_the_count_between():
    log = Timelog(time_unit="s", maintenance="disabled")
    t0 = 1_700_000_000
    log.extend((t0 + i, i) for i in range(10))
    log.flush()
    log[t0 + 10] = 10  # the tail spans the memtable and an L0 segment
    out = log._repr_html_()
    assert out.index('class="timelog-repr"') < out.index('class="timelog-preview"')
    rows, more = preview_rows(out)
    assert [v for _, v in rows] == ["0", "1", "2", "8", "9", "10"]
    assert rows[0][0] == "2023-11-14T22:13:20Z"  # ISO in the log's unit
    assert more == "\u2026 5 more records \u2026"
    del log[t0 + 1 : t0 + 9]  # tombstone-aware: the count and the rows follow deletes
    rows, more = preview_rows(log._repr_html_())
    assert [v for _, v in rows] == ["0", "9", "10"] and more is None
    log.extend((t0 + 20 + i, i) for i in range(5))
    rows, more = preview_rows(log._repr_html_())
    assert more == "\u2026 2 more records \u2026"
    log.close()


def test_html_preview_duplicates_at_the_tail_are_the_last_in_iteration_order():
    class P:
        def __init__(self, i):
            self.i = i

        def __repr__(self):
            return "P%d" % self.i

    for n_dup in (2, 3, 4, 5000):
        log = Timelog(maintenance="disabled")
        log.extend((t, P(t)) for t in range(100))
        k = 0
        # the duplicates of the last timestamp live in three layers
        for layer in range(3):
            log.extend((200, P(1000 + k + j)) for j in range(n_dup // 3 + (layer < n_dup % 3)))
            k += n_dup // 3 + (layer < n_dup % 3)
            if layer == 0:
                log.flush()
                log.compact()
            elif layer == 1:
                log.flush()
        assert log.count(200, 201) == n_dup
        every = [repr(obj) for _, obj in log.all()]
        rows, more = preview_rows(log._repr_html_())
        assert [v for _, v in rows] == every[:3] + every[-3:]
        assert more == f"\u2026 {len(every) - 6:,} more records \u2026"
        log.close()


def test_html_preview_when_every_record_shares_one_timestamp():
    log = Timelog(maintenance="disabled")
    log.extend((7, i) for i in range(50))
    log.flush()
    log.extend((7, i) for i in range(50, 60))
    every = [repr(obj) for _, obj in log.all()]
    rows, more = preview_rows(log._repr_html_())
    assert [v for _, v in rows] == every[:3] + every[-3:]  # no record twice
    assert more == "\u2026 54 more records \u2026"
    log.close()


def test_html_preview_at_the_int64_extremes():
    log = Timelog(time_unit="ns", maintenance="disabled")
    log.extend([(INT64_MIN, "lo"), (0, "mid"), (INT64_MAX, "hi")])
    rows, _ = preview_rows(log._repr_html_())
    assert rows[0] == ("%d (int64 min)" % INT64_MIN, "'lo'")
    assert rows[-1] == ("2262-04-11T23:47:16.854775807Z", "'hi'")
    log.close()


def test_html_preview_escapes_and_truncates_payloads():
    class Long:
        def __repr__(self):
            return "<Long " + "x" * 500 + ">"

    log = Timelog(maintenance="disabled")
    log.extend(
        [
            (1, "<script>alert(1)</script>"),
            (2, Long()),
            (3, "line one\nline two"),
            (4, list(range(10_000))),
            (5, {"k%d" % i: "<i>" for i in range(10_000)}),
        ]
    )
    out = log._repr_html_()
    assert "<script>" not in out and "<i>" not in out and "<Long" not in out
    for text in re.findall(r">([^<]+)<", out):
        assert html.escape(html.unescape(text)) == text
    values = [v for _, v in preview_rows(out)[0]]
    assert values[0] == "'<script>alert(1)</script>'"
    assert values[1].startswith("<Long xxx") and values[1].endswith("\u2026")
    assert all(len(v) <= 80 for v in values)
    assert "\n" not in values[2] and "\\n" in values[2]  # the str repr escapes it
    assert values[3].startswith("[0, 1, 2") and values[3].endswith("...]")
    log.close()


def test_html_preview_survives_payloads_whose_repr_fails():
    class Raises:
        def __repr__(self):
            raise ValueError("no repr for you")

    class NotStr:
        def __repr__(self):
            return 42

    class Multi:
        def __repr__(self):
            return "a\n  b\r\n c"

    log = Timelog(maintenance="disabled")
    log.extend([(1, Raises()), (2, NotStr()), (3, {"inner": Raises()}), (4, Multi())])
    values = [v for _, v in preview_rows(log._repr_html_())[0]]
    name = "Raises"
    assert values[0] == "<%s: repr() raised ValueError>" % name
    assert values[1] == "<%s: repr() raised TypeError>" % "NotStr"
    assert values[2] == "{'inner': <%s: repr() raised ValueError>}" % name
    assert values[3] == "a b c"
    log.close()


def test_html_preview_payload_repr_may_close_the_log():
    box = {}

    class Closer:
        def __repr__(self):
            box["log"].close()
            return "closer"

    log = Timelog(maintenance="disabled")
    box["log"] = log
    log.extend([(1, Closer()), (2, "b")])
    rows, _ = preview_rows(log._repr_html_())
    assert [v for _, v in rows] == ["closer", "'b'"]
    assert log.closed


def test_html_preview_empty_and_closed_show_the_summary_only():
    log = Timelog(maintenance="disabled")
    assert "timelog-preview" not in log._repr_html_()
    log.extend((t, t) for t in range(3))
    del log[:]
    assert "timelog-preview" not in log._repr_html_()
    log[1] = "x"
    assert "timelog-preview" in log._repr_html_()
    log.close()
    out = log._repr_html_()
    assert "timelog-preview" not in out and "<td>closed</td>" in out


def test_html_preview_of_a_million_records_reads_only_what_it_shows():
    # No scan: a payload's __repr__ runs once per previewed row, and the
    # tail's duplicate skip touches no payload. Behaviour, not timing.
    calls = []

    class Counted:
        def __init__(self, name):
            self.name = name

        def __repr__(self):
            calls.append(self.name)
            return self.name

    n = 1_000_000
    head, body, tail = Counted("head"), Counted("body"), Counted("tail")
    log = Timelog(maintenance="disabled")
    payloads = [body] * n
    payloads[:3] = [head] * 3
    log.bulk_append(np.arange(n, dtype=np.int64), payloads)
    log.flush()
    log.extend((n + 10, tail) for _ in range(1000))  # duplicates at the tail
    log.extend((n + 20 + i, tail) for i in range(5))
    del log[n + 21 :]  # the visible tail ends under a tombstone
    calls.clear()
    rows, more = preview_rows(log._repr_html_())
    assert calls == ["head"] * 3 + ["tail"] * 3
    assert [v for _, v in rows] == calls
    assert [t for t, _ in rows][3:] == [iso(n + 10), iso(n + 10), iso(n + 20)]
    assert more == f"\u2026 {n + 1001 - 6:,} more records \u2026"
    log.close()


def test_html_preview_is_consistent_while_a_writer_and_maintenance_run():
    # Head, tail and the count between come from one snapshot: whatever the
    # writer thread and the background worker do meanwhile, the preview is
    # ordered, the head never passes the tail, and the shown plus the hidden
    # records are the count of one state (a multiple of the batch size here).
    import threading
    import time

    log = Timelog(maintenance="background", busy_policy="flush", memtable_max_bytes=64 * 1024)
    stop = threading.Event()

    def write():
        t = 0
        while not stop.is_set():
            log.bulk_append(np.arange(t, t + 100, dtype=np.int64), list(range(100)))  # atomic
            t += 100
            if t % 5000 == 0:
                del log[: t - 2000]  # cut the head in whole batches

    th = threading.Thread(target=write)
    th.start()
    try:
        seen = 0
        while seen < 300:
            out = log._repr_html_()
            rows, more = preview_rows(out)
            if rows is None:
                continue
            seen += 1
            stamps = [int(np.datetime64(ts[:-1], "ms").astype(np.int64)) for ts, _ in rows]
            assert stamps == sorted(stamps)
            hidden = int(more.split()[1].replace(",", "")) if more else 0
            assert (hidden + len(rows)) % 100 == 0
            time.sleep(0.0005)  # let the writer run between reprs
    finally:
        stop.set()
        th.join(10)
        log.close()

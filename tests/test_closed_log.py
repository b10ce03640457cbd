"""A closed log: every public method raises TimelogError, and that check comes
before any argument check; what still answers after close() is listed and
tested, and so are iterators, spans and views that outlive their log."""

import pickle

import numpy as np
import pytest

from timelog import Timelog, TimelogError

CLOSED_CALLS = {
    "append": lambda lg: lg.append(1, "x"),
    "append_now": lambda lg: lg.append("x"),
    "append_kw": lambda lg: lg.append("x", ts=1),
    "setitem": lambda lg: lg.__setitem__(1, "x"),
    "extend": lambda lg: lg.extend([(1, "x")]),
    "bulk_append": lambda lg: lg.bulk_append(np.array([1], dtype=np.int64), ["x"]),
    "delete": lambda lg: lg.delete(1),
    "delete_range": lambda lg: lg.delete(1, 2),
    "cutoff": lambda lg: lg.cutoff(1),
    "delitem": lambda lg: lg.__delitem__(slice(None)),
    "getitem": lambda lg: lg[1],
    "slice": lambda lg: lg[1:2],
    "range": lambda lg: lg.range(1, 2),
    "since": lambda lg: lg.since(1),
    "until": lambda lg: lg.until(1),
    "all": lambda lg: lg.all(),
    "iter": lambda lg: iter(lg),
    "point": lambda lg: lg.point(1),
    "len": lambda lg: len(lg),
    "contains": lambda lg: 1 in lg,
    "count": lambda lg: lg.count(),
    "arrays": lambda lg: lg.arrays(),
    "timestamps": lambda lg: lg.timestamps(0, 10),
    "to_numpy": lambda lg: lg.to_numpy(0, 10, dtype="int64"),
    "to_dict": lambda lg: lg.to_dict(0, 10),
    "histogram": lambda lg: lg.histogram(0, 10, bins=2),
    "counts": lambda lg: lg.counts(0, 10, 5),
    "min_ts": lambda lg: lg.min_ts(),
    "max_ts": lambda lg: lg.max_ts(),
    "next_ts": lambda lg: lg.next_ts(1),
    "prev_ts": lambda lg: lg.prev_ts(1),
    "views": lambda lg: lg.views(),
    "flush": lambda lg: lg.flush(),
    "compact": lambda lg: lg.compact(),
    "maint_step": lambda lg: lg.maint_step(),
    "stats": lambda lg: lg.stats(),
    "validate": lambda lg: lg._validate(),
    "enter": lambda lg: lg.__enter__(),
}


@pytest.mark.parametrize("call", sorted(CLOSED_CALLS))
def test_closed_log_raises_timelog_error(call):
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        CLOSED_CALLS[call](log)


def test_closed_log_still_answers_lifecycle_questions():
    log = Timelog(maintenance="disabled")
    log.close()
    log.close()
    assert log.closed
    assert log.retired_queue_len == 0
    assert log.busy_events == 0 and log.extend_skipped == 0
    assert log.time_unit == "ms"
    assert repr(log).startswith("<Timelog closed")


# ---------------------------------------------------------------- after close()

# Everything except close(), reopen()/configure(), the read-only properties,
# repr/__sizeof__/_repr_html_ and pickling raises TimelogError on a closed log.
MORE_CLOSED_CALLS = {
    "extend_lists": lambda lg: lg.extend([1], ["x"]),
    "delete_range_alias": lambda lg: lg.delete_range(1, 2),
    "delete_before_alias": lambda lg: lg.delete_before(1),
    "delete_open": lambda lg: lg.delete(1, None),
    "delitem_point": lambda lg: lg.__delitem__(1),
    "at": lambda lg: lg.at(1),
    "equal": lambda lg: lg.equal(1),
    "open_slice": lambda lg: lg[1:],
    "page_spans": lambda lg: lg.page_spans(),
    "to_pandas": lambda lg: lg.to_pandas(),
    "arrow": lambda lg: lg.arrow(payload=None),
    "to_arrow": lambda lg: lg.to_arrow(),
    "to_polars": lambda lg: lg.to_polars(),
    "start_maintenance": lambda lg: lg.start_maintenance(),
    "stop_maintenance": lambda lg: lg.stop_maintenance(),
    "validate_public": lambda lg: lg.validate(),
    "arm_alloc_failure": lambda lg: lg._arm_alloc_failure(1),
    "windows": lambda lg: lg.windows(0, 10, "1ms"),
    "save": lambda lg: lg.save("never-written.parquet"),
}

# Names that answer on a closed log (never raise).
CLOSED_OK = {
    "close",
    "closed",
    "reopen",
    "configure",
    "busy_events",
    "busy_policy",
    "extend_skipped",
    "retired_queue_len",
    "time_unit",
    "maintenance_mode",
    "maintenance_running",
    "alloc_failures",
    "min_ts_floor",
    "_repr_html_",
    "for_streaming",
    "for_bulk_ingest",
    "for_low_latency",
    "from_arrow",  # classmethods: they build a new log
    "load",
    "_alloc_calls",
    "_alloc_failures_injected",
    "_gate_state",
}


@pytest.mark.parametrize("call", sorted(MORE_CLOSED_CALLS))
def test_more_calls_on_a_closed_log_raise_timelog_error(call):
    log = Timelog(maintenance="disabled", _fail_alloc=0)
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        MORE_CLOSED_CALLS[call](log)


def test_every_public_name_is_classified_for_a_closed_log():
    covered = set(CLOSED_OK)
    for name in list(CLOSED_CALLS) + list(MORE_CLOSED_CALLS):
        covered.add(name)
    methods = {n for n in dir(Timelog) if not n.startswith("__")}
    # names in the closed-call tables are test names; map the obvious ones
    aliases = {
        "append_now": "append",
        "append_kw": "append",
        "setitem": None,
        "delete_range": "delete",
        "delitem": None,
        "getitem": None,
        "slice": None,
        "iter": None,
        "len": None,
        "contains": None,
        "validate": "_validate",
        "enter": None,
        "extend_lists": "extend",
        "delete_range_alias": "delete_range",
        "delete_before_alias": "delete_before",
        "delete_open": "delete",
        "delitem_point": None,
        "open_slice": None,
        "validate_public": "validate",
        "arm_alloc_failure": "_arm_alloc_failure",
    }
    for k, v in aliases.items():
        if v:
            covered.add(v)
    missing = sorted(methods - covered)
    assert not missing, "not checked on a closed log: %s" % missing


def test_closed_log_answers_what_it_can():
    log = Timelog(maintenance="background")
    log.close()
    assert repr(log).startswith("<Timelog closed")
    assert "closed" in log._repr_html_()
    assert log.__sizeof__() > 0
    assert log.maintenance_running is False and log.alloc_failures == 0
    clone = pickle.loads(pickle.dumps(log))  # a closed log copies as closed
    assert clone.closed
    log.__exit__(None, None, None)  # closing again: a no-op
    assert log.closed


def test_with_on_a_closed_log_raises(log):
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        with log:
            pass


def test_closed_iterator_span_and_view(log):
    log.extend((t, t) for t in range(10))
    log.flush()
    it = log.all()
    span = next(log.views())
    view = span.objects()
    it.close()
    span.close()
    assert list(it) == [] and it.next_batch(5) == [] and len(it) == 0
    ts, objs = it.to_numpy()
    assert ts.tolist() == [] and objs == []
    with pytest.raises(TimelogError, match="closed"):
        it.view()
    for attr in ("timestamps", "start_ts", "last_ts", "end_ts", "_address"):
        with pytest.raises(TimelogError, match="closed"):
            getattr(span, attr)
    with pytest.raises(TimelogError, match="closed"):
        span.objects()
    assert len(span) == 0
    assert view[0] == 0 and len(view) == 10  # the view holds its own pin
    with pytest.raises(IndexError):
        view[10]
    with pytest.raises(TypeError):
        view[1.5]
    assert view[::3] == [0, 3, 6, 9]


# --------------------------------------------- closed check before arguments

# On a closed log the closed-log TimelogError is the first failing check of
# every public method: a caller with a stale handle learns that, not a
# complaint about an argument. The walk is over everything Timelog defines,
# so a new method is covered without editing this test. Allowed here: the
# lifecycle calls that work on a closed log (docs/api.md, "Lifecycle"),
# construction, pickling, and __reversed__ (never supported: TypeError).
CLOSED_ALLOWED = {
    "close",
    "reopen",
    "configure",
    "__exit__",
    "__repr__",
    "_repr_html_",
    "__sizeof__",
    "__reduce__",
    "__setstate__",
    "__init__",
    "__new__",
    "for_streaming",
    "for_bulk_ingest",
    "for_low_latency",
    "from_arrow",
    "load",
    "_gate_state",
    "__reversed__",
}
# Slot wrappers have no introspectable signature: their arity.
SLOT_ARITY = {
    "__contains__": 1,
    "__delitem__": 1,
    "__getitem__": 1,
    "__setitem__": 2,
    "__len__": 0,
    "__iter__": 0,
}
BAD_VALUES = {
    "object": object(),
    "str": "nonsense",
    "huge": -(2**70),
    "nan": float("nan"),
    "slice": slice(object(), "x", 0),
    "generator": (i for i in range(3)),
}


def _class_members(cls):
    """What cls and its base classes define (Timelog's lifecycle half is its
    base class, timelog._core._TimelogState), object's own slots left out."""
    members = {}
    for klass in reversed(cls.__mro__[:-1]):
        members.update(vars(klass))
    return members


def _public_methods():
    names = []
    for name, attr in sorted(_class_members(Timelog).items()):
        if name in CLOSED_ALLOWED or name.startswith("__pyx") or name == "__doc__":
            continue
        if type(attr).__name__ == "getset_descriptor":
            continue  # properties: covered by the tables above
        if name.startswith("__") and name not in SLOT_ARITY and not callable(attr):
            continue
        names.append(name)
    return names


def _bad_call(log, name, bad):
    import inspect

    method = getattr(log, name)
    if name in SLOT_ARITY:
        return method(*[bad] * SLOT_ARITY[name])
    args, kwargs = [], {}
    for p in inspect.signature(method).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL):
            args.append(bad)
        elif p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = bad
    return method(*args, **kwargs)


def test_the_closed_walk_sees_the_methods():
    names = _public_methods()
    for expected in ("append", "bulk_append", "to_numpy", "__getitem__", "histogram"):
        assert expected in names
    assert not set(names) & CLOSED_ALLOWED


@pytest.mark.parametrize("bad", sorted(BAD_VALUES))
@pytest.mark.parametrize("name", _public_methods())
def test_closed_check_comes_before_argument_checks(name, bad):
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        _bad_call(log, name, BAD_VALUES[bad])
    assert log.closed


@pytest.mark.parametrize(
    "call",
    [
        lambda lg: lg.append(object(), "x"),
        lambda lg: lg.append("x", ts="nonsense"),
        lambda lg: lg.append(obj_or_ts=2**70, obj_or_none="x"),
        lambda lg: lg.bulk_append(np.array([1.5]), ["x"]),
        lambda lg: lg.bulk_append(np.array([1]), (o for o in "x")),
        lambda lg: lg.extend([(object(), "x")], insert_on_error=False),
        lambda lg: lg.to_numpy(dtype="U3"),
        lambda lg: lg.histogram(0, 10, bins=-1),
        lambda lg: lg.counts(0, 10, 0),
        lambda lg: lg.page_spans(kind="nonsense"),
        lambda lg: lg.views(kind="nonsense"),
        lambda lg: lg.range(10, 1),
        lambda lg: lg[1:2:3],
        lambda lg: lg.__setitem__(slice(1, 2), "x"),
        lambda lg: lg.delete(object()),
        lambda lg: lg._arm_alloc_failure(-1),
    ],
)
def test_closed_check_comes_first_for_typical_mistakes(call):
    # The walk above gives every argument the same bad value; these mix a
    # valid and an invalid one, as real mistakes do. (A wrong NUMBER of
    # arguments is the one exception: the call itself refuses it with a
    # TypeError before the method runs.)
    log = Timelog(maintenance="disabled")
    log.close()
    with pytest.raises(TimelogError, match="closed"):
        call(log)

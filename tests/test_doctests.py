"""The examples in the public docstrings run and print what they say."""

import doctest
import inspect

import pytest

import timelog
from timelog import _core


def _docstrings():
    yield "timelog", timelog.__doc__
    for name in timelog.__all__:
        obj = getattr(timelog, name)
        if not inspect.isclass(obj):
            continue
        yield name, obj.__doc__
        # The class and its bases (Timelog's lifecycle half is its base
        # class, _TimelogState), object's own members left out.
        members = {}
        for klass in reversed(obj.__mro__[:-1]):
            members.update(vars(klass))
        for attr, member in members.items():
            doc = getattr(member, "__doc__", None)
            if isinstance(member, property):
                doc = member.fget.__doc__ if member.fget else None
            if doc and ">>>" in doc:
                yield "%s.%s" % (name, attr), doc


DOCS = [(name, doc) for name, doc in _docstrings() if doc and ">>>" in doc]


def test_there_are_examples():
    assert len(DOCS) >= 10


@pytest.mark.parametrize("name,doc", DOCS, ids=[n for n, _ in DOCS])
def test_docstring_examples(name, doc):
    parser = doctest.DocTestParser()
    globs = {"Timelog": timelog.Timelog, "timelog": timelog, "_core": _core}
    test = parser.get_doctest(doc, globs, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = []
    runner.run(test, out=out.append)
    assert runner.failures == 0, "".join(out)

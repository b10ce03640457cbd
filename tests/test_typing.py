"""The package is typed: py.typed ships, and _core.pyi covers every public name."""

import ast
import pathlib

import pytest

import timelog

PKG = pathlib.Path(timelog.__file__).parent
STUB = PKG / "_core.pyi"


def stub_classes():
    tree = ast.parse(STUB.read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names = set()
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
            out[node.name] = names
    return out


def test_py_typed_marker():
    assert (PKG / "py.typed").is_file()


def test_all_and_version():
    assert timelog.__version__ == "0.1.0"
    assert set(timelog.__all__) == {
        "Timelog", "TimelogError", "TimelogBusyError", "TimelogIter", "PageSpan",
        "PageSpanIter", "PageSpanObjectsView", "__version__"}
    for name in timelog.__all__:
        assert hasattr(timelog, name)


@pytest.mark.parametrize("name", [n for n in timelog.__all__ if n != "__version__"])
def test_every_public_name_has_a_stub(name):
    assert name in stub_classes()


@pytest.mark.parametrize("name", [n for n in timelog.__all__ if n != "__version__"])
def test_every_public_member_is_typed(name):
    cls = getattr(timelog, name)
    if issubclass(cls, BaseException):
        return
    runtime = {a for a in dir(cls) if not a.startswith("_")}
    missing = sorted(runtime - stub_classes()[name])
    assert not missing, "%s members missing from _core.pyi: %s" % (name, missing)


def test_stub_declares_nothing_that_does_not_exist():
    for name, members in stub_classes().items():
        cls = getattr(timelog._core, name, None)
        if cls is None:
            continue  # typing-only helpers (TypedDicts)
        for member in members:
            assert hasattr(cls, member), "%s.%s is in the stub only" % (name, member)

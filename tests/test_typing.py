"""The package is typed: py.typed ships, and _core.pyi covers every public name."""

import ast
import pathlib
import sys

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
        "Timelog",
        "TimelogError",
        "TimelogBusyError",
        "TimelogIter",
        "PageSpan",
        "PageSpanIter",
        "PageSpanObjectsView",
        "Record",
        "RecordIter",
        "RecordBatch",
        "__version__",
    }
    for name in timelog.__all__:
        assert hasattr(timelog, name)


CLASSES = [
    n for n in timelog.__all__ if n not in ("__version__", "Record", "RecordIter", "RecordBatch")
]


@pytest.mark.parametrize("name", CLASSES)
def test_every_public_name_has_a_stub(name):
    assert name in stub_classes()


@pytest.mark.parametrize("name", CLASSES)
def test_every_public_member_is_typed(name):
    cls = getattr(timelog, name)
    if issubclass(cls, BaseException):
        return
    runtime = {a for a in dir(cls) if not a.startswith("_")}
    missing = sorted(runtime - stub_classes()[name])
    assert not missing, "%s members missing from _core.pyi: %s" % (name, missing)


# PEP 688 names a buffer exporter's slots __buffer__/__release_buffer__; the
# stub spells them for type checkers, the runtime has them only from 3.12.
PEP688 = {"__buffer__", "__release_buffer__"}


def test_stub_declares_nothing_that_does_not_exist():
    for name, members in stub_classes().items():
        cls = getattr(timelog._core, name, None)
        if cls is None:
            continue  # typing-only helpers (TypedDicts)
        if members & PEP688:
            assert members >= PEP688
            assert hasattr(cls, "__buffer__") or sys.version_info < (3, 12)
            members = members - PEP688
        for member in members:
            assert hasattr(cls, member), "%s.%s is in the stub only" % (name, member)


ROOT = pathlib.Path(__file__).resolve().parent.parent
USE_EVERY_NAME = ROOT / "tests" / "typing" / "use_every_name.py"


def test_use_every_name_runs():
    # The typing sample is real code: it must also run, or the stubs could
    # agree with calls that fail.
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, str(USE_EVERY_NAME)],
        cwd=str(ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout + proc.stderr


def test_mypy_strict_on_use_every_name():
    # make venv installs mypy (requirements-dev.txt): a missing mypy is a
    # broken environment, so this fails rather than skips.
    try:
        from mypy import api as mypy_api
    except ImportError as e:  # pragma: no cover - environment problem
        pytest.fail("mypy is not importable (%s); run `make venv`" % (e,))
    # cwd = repo root, so mypy resolves `timelog` to this tree (timelog/_core.pyi
    # and py.typed), exactly what a user of the installed package sees.
    import os

    old = os.getcwd()
    os.chdir(ROOT)
    try:
        stdout, stderr, status = mypy_api.run(
            [
                "--strict",
                "--no-incremental",
                "--cache-dir",
                os.devnull,
                str(USE_EVERY_NAME.relative_to(ROOT)),
            ]
        )
    finally:
        os.chdir(old)
    assert status == 0, "mypy --strict reported errors:\n" + stdout + stderr
    assert "Success" in stdout

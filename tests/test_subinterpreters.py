"""timelog and subinterpreters: refused at import, clearly, in an isolated
subinterpreter with its own GIL (and in a legacy one sharing the main GIL),
while the main interpreter keeps using its own log.

The stance is declared in timelog/_core.pyx's header
(``subinterpreters_compatible = no``) and documented in docs/platforms.md.
These tests need CPython's interpreters module with per-interpreter GIL
configs: ``_xxsubinterpreters`` on 3.12, ``_interpreters`` on 3.13+.
"""

import importlib
import pathlib
import re
import sys

import pytest

import timelog


def _interpreters_module():
    for name in ("_interpreters", "_xxsubinterpreters"):
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    return None


interpreters = _interpreters_module() if sys.version_info >= (3, 12) else None

needs_own_gil = pytest.mark.skipif(
    interpreters is None,
    reason="no interpreters module with per-interpreter GIL on this CPython "
    "(_xxsubinterpreters needs 3.12+, _interpreters 3.13+)",
)


def _create(kind="isolated"):
    """A subinterpreter: "isolated" has its own GIL and CPython's strict
    extension check; "legacy" shares the main GIL (as mod_wsgi's do)."""
    if hasattr(interpreters, "new_config"):  # 3.13+
        config = interpreters.new_config(kind)
        if kind == "isolated":
            assert config.gil == "own" and config.check_multi_interp_extensions
        return interpreters.create(config)
    return interpreters.create(isolated=(kind == "isolated"))  # 3.12


def _run(interp, code):
    """Runs code in interp; returns None, or the failure as "Type: message".

    3.12 raises RunFailedError carrying "<class 'T'>: message"; 3.13 returns
    an exception snapshot whose .formatted is "T: message".
    """
    try:
        failure = interpreters.run_string(interp, code)
    except getattr(interpreters, "RunFailedError", ()) as exc:
        text = str(exc)
        match = re.match(r"<class '([\w.]+)'>: (.*)", text, re.S)
        return f"{match.group(1)}: {match.group(2)}" if match else text
    return None if failure is None else failure.formatted


def _code(body):
    # A subinterpreter starts from the interpreter's initial sys.path; give it
    # ours so that it finds the same timelog (the in-place build).
    return f"import sys\nsys.path[:0] = {sys.path!r}\n{body}"


@needs_own_gil
@pytest.mark.parametrize("kind", ["isolated", "legacy"])
def test_subinterpreter_refuses_timelog_and_main_keeps_working(kind):
    log = timelog.Timelog(maintenance="disabled")
    log.extend([(1, "a"), (2, "b")])
    interp = _create(kind)
    try:
        # The harness itself works in there: a plain stdlib import succeeds.
        assert _run(interp, _code("import json\nassert json.loads('[1]') == [1]")) is None
        failure = _run(interp, _code("import timelog"))
        assert failure is not None, "timelog imported in an own-GIL subinterpreter"
        assert failure.startswith("ImportError: timelog does not support subinterpreters"), failure
        assert "main interpreter" in failure and "docs/platforms.md" in failure
        # Asking again gives the same answer (nothing half-imported remains).
        again = _run(interp, _code("import timelog"))
        assert again is not None and again.startswith("ImportError: timelog does not support"), (
            again
        )
        # Neither import reached the compiled module or NumPy in there.
        assert (
            _run(
                interp,
                _code(
                    "assert 'timelog._core' not in sys.modules, sorted(sys.modules)\n"
                    "assert 'numpy' not in sys.modules"
                ),
            )
            is None
        )
    finally:
        interpreters.destroy(interp)
    # The main interpreter's log is untouched and still usable.
    log[3] = "c"
    assert list(log[0:10]) == [(1, "a"), (2, "b"), (3, "c")]
    log.close()


@needs_own_gil
def test_refusal_does_not_depend_on_main_having_imported_first():
    # Two subinterpreters in turn, each refused the same way, with a log in
    # use in the main interpreter between them.
    for _ in range(2):
        interp = _create()
        try:
            failure = _run(interp, _code("import timelog"))
        finally:
            interpreters.destroy(interp)
        assert failure is not None and failure.startswith(
            "ImportError: timelog does not support subinterpreters"
        ), failure
        log = timelog.Timelog(maintenance="background")
        log[1] = "x"
        log.flush()
        assert log[1] == ["x"]
        log.close()


def test_declared_directives_match_the_tested_stance():
    # The refusal above and the free-threading note in docs/platforms.md are
    # what the module's header declares to Cython.
    pyx = pathlib.Path(timelog.__file__).with_name("_core.pyx")
    if not pyx.exists():
        pytest.skip("an installed wheel ships no _core.pyx")
    header = []
    for line in pyx.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    directives = dict(
        (k.strip(), v.strip())
        for line in header
        if line.startswith("# cython:")
        for k, v in [line[len("# cython:") :].split("=", 1)]
    )
    assert directives.get("subinterpreters_compatible") == "no"
    assert directives.get("freethreading_compatible") == "False"

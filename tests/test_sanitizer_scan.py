"""tools/scan_sanitizer_log.py, which `make ctest-asan` runs over the Criterion
output: it must fail on any sanitizer report of ours and pass libcriterion's
own exit-time leak (allocated by libcriterion's code, frame #1 above calloc)."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "scan_sanitizer_log", ROOT / "tools" / "scan_sanitizer_log.py"
)
scan_sanitizer_log = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scan_sanitizer_log)
scan = scan_sanitizer_log.scan

CRITERION_OWN = """\
[====] Synthesis: Tested: 316 | Passing: 316 | Failing: 0 | Crashing: 0

=================================================================
==15208==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 48 byte(s) in 1 object(s) allocated from:
    #0 0x7f71476b83b7 in __interceptor_calloc ../../../../src/libsanitizer/asan/asan_malloc_linux.cpp:77
    #1 0x7f71475ef332  (/lib/x86_64-linux-gnu/libcriterion.so.3+0x1a332)

SUMMARY: AddressSanitizer: 48 byte(s) leaked in 1 allocation(s).
"""

OURS = """\
==1==ERROR: LeakSanitizer: detected memory leaks

Direct leak of 64 byte(s) in 1 object(s) allocated from:
    #0 0x7f in malloc (/build/test_asan+0x1234)
    #1 0x55 in tl_default_alloc csrc/tl_alloc.c:40
    #2 0x7f  (/lib/x86_64-linux-gnu/libcriterion.so.3+0x1a332)

SUMMARY: AddressSanitizer: 64 byte(s) leaked in 1 allocation(s).
"""


def test_clean_output_passes():
    assert scan("[====] Synthesis: Tested: 3 | Passing: 3 | Failing: 0 | Crashing: 0\n") == []


def test_libcriterions_own_leak_is_a_notice(capsys):
    assert scan(CRITERION_OWN) == []
    assert "ignoring libcriterion's own leak" in capsys.readouterr().out


def test_a_leak_from_our_code_fails_even_below_criterion_frames():
    problems = scan(OURS)
    assert len(problems) == 1 and "tl_default_alloc" in problems[0]
    # ... also when libcriterion's own leak is in the same report
    assert len(scan(CRITERION_OWN + OURS)) == 1


@pytest.mark.parametrize(
    "line",
    [
        "csrc/tl_page.c:10:5: runtime error: signed integer overflow",
        "==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x6020",
    ],
)
def test_other_sanitizer_reports_fail(line):
    assert scan(CRITERION_OWN + line + "\n") == [line]


def test_main_exit_status(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(CRITERION_OWN)
    assert scan_sanitizer_log.main(["scan", str(log)]) == 0
    log.write_text(OURS)
    assert scan_sanitizer_log.main(["scan", str(log)]) == 1


def test_exit_status_passes_only_for_libcriterions_own_leak(tmp_path):
    log = tmp_path / "run.log"
    log.write_text(CRITERION_OWN)
    # the runner exits 1 (or LeakSanitizer's 23) for that leak alone
    assert scan_sanitizer_log.main(["scan", str(log), "--status", "1"]) == 0
    assert scan_sanitizer_log.main(["scan", str(log), "--status", "23"]) == 0
    # a failing test in the synthesis: the status is passed on
    log.write_text(CRITERION_OWN.replace("Failing: 0", "Failing: 1"))
    assert scan_sanitizer_log.main(["scan", str(log), "--status", "1"]) == 1
    # a failure with no leak in the log is not explained by it
    log.write_text("[====] Synthesis: Tested: 3 | Passing: 3 | Failing: 0 | Crashing: 0\n")
    assert scan_sanitizer_log.main(["scan", str(log), "--status", "1"]) == 1

# mk/bench.mk: benchmarks, the retention soak and the long stress runs (never part of test).
#
# Included by the Makefile.

# Benchmarks are slow and machine-dependent, so they are never part of `test`.
.PHONY: bench
bench: venv build ## set up everything, run the pytest-benchmark suite
	$(VPY) -m pytest benchmarks --benchmark-only -q

# timelog against the reference design (timelog-lib, built into its own venv
# under build/peers/ on first use), SortedKeyList and NumPy floors, same data,
# interleaved rounds; writes build/bench/compare-<date>.json. Full run: minutes.
.PHONY: bench-compare bench-report
bench-compare: venv build ## head-to-head benchmark vs the reference design (slow)
	$(VPY) benchmarks/compare.py

bench-report: venv ## render docs/performance-results.md from the newest compare JSON
	$(VPY) benchmarks/compare_report.py

# The retention soak (issue 15): the append + delete-the-old loop in every
# mode (cutoff, range and point deletes, a mix; readers on and off;
# background maintenance and disabled + explicit maint_step), printing start,
# end and slope of held payloads, engine bytes, RSS and tombstones per mode;
# fails past the bound. SOAK_SECONDS is the whole run (split across the 16
# modes). Not part of `test`, which runs the short version
# (tests/test_soak.py).
SOAK_SECONDS ?= 240
.PHONY: soak
soak: venv build ## retention soak in every mode for SOAK_SECONDS (default 240) in all
	$(VPY) tests/soak_driver.py --seconds $(SOAK_SECONDS)


# Long randomized runs, never part of `test`. TIMELOG_STRESS=1 makes the
# Python suites run far more: the Hypothesis state machine of
# tests/test_model.py (STRESS_EXAMPLES randomized examples of STRESS_STEPS
# steps), more seeds of the seeded model runs and of the fault-injection walk,
# STRESS_SECONDS of the concurrency test; then the C concurrency scenarios
# (tests/c/stress_core.c) under ThreadSanitizer, STRESS_SECONDS per stress run.
STRESS_EXAMPLES ?= 1500
STRESS_STEPS    ?= 120
STRESS_SECONDS  ?= 30

.PHONY: stress
stress: build $(CBUILD)/stress_tsan ## long randomized runs: model state machine, fault injection, concurrency, C stress under TSan
	@echo "== Python stress: $(STRESS_EXAMPLES) state-machine examples x $(STRESS_STEPS) steps"
	TIMELOG_STRESS=1 TIMELOG_STRESS_EXAMPLES=$(STRESS_EXAMPLES) TIMELOG_STRESS_STEPS=$(STRESS_STEPS) \
	  TIMELOG_STRESS_SECONDS=$(STRESS_SECONDS) \
	  $(VPY) -m pytest -q -p no:cacheprovider tests/test_model.py tests/test_fault_injection.py \
	  tests/test_reentrancy.py tests/test_concurrency.py
	$(MAKE) --no-print-directory ctest-tsan TSAN_SECONDS=$(STRESS_SECONDS)


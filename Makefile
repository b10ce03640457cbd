# timelog: build, test and packaging entry points (GNU make).
#
#   make test    set everything up on a fresh machine, then run every test:
#                Criterion C tests plain and under ASan+UBSan, then pytest
#   make demo    set everything up, then run the demo on built-in data
#   make bench   set everything up, then run the benchmarks (never part of test)
#
# Everything Python lives in .venv; nothing is installed into the system
# Python. System packages (Criterion, and on a bare Debian the venv module and
# Python headers) are installed with apt-get when, and only when, missing.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Each recipe runs as one bash script (with -e: the first failing command
# fails the target), so recipes can use multi-line if/fi blocks.
.ONESHELL:
.DEFAULT_GOAL := help
# A recipe that fails half-way must not leave a target that looks up to date.
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV   := .venv
VPY    := $(VENV)/bin/python
VPIP   := $(VENV)/bin/pip

# make's built-in default for CC is "cc"; the project's default is gcc, while
# `make CC=clang ...` or CC in the environment still wins.
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang

# ------------------------------------------------------------------ sources

ENGINE_SRCS  := $(sort $(wildcard csrc/*.c))
ENGINE_HDRS  := $(sort $(wildcard csrc/*.h))
CTEST_SRCS   := $(sort $(wildcard tests/c/*.c))
BINDING_SRCS := $(sort $(wildcard timelog/*.pyx timelog/*.pxd))

# ------------------------------------------------------------------ stamps

VENV_STAMP  := $(VENV)/.deps-stamp
BUILD_STAMP := build/.inplace-stamp
CBUILD      := tests/c/build

# ------------------------------------------------------------------ helpers

# Run a command as root: directly when we are root (CI), through sudo when it
# exists, otherwise fail with a message saying what to install by hand.
as_root = if [[ $$(id -u) -eq 0 ]]; then $(1); elif command -v sudo >/dev/null 2>&1; then sudo $(1); else echo "error: need root (or sudo) to run: $(1)" >&2; exit 1; fi

APT_INSTALL := env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

.PHONY: test demo bench venv build criterion ctest ctest-plain ctest-asan \
        ctest-clang ctest-tsan pytest sdist wheel clean distclean help

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]*:.*## ' $(firstword $(MAKEFILE_LIST)) | sed -E 's/:.*## /\t/' | expand -t 14

# ------------------------------------------------------------------ one-command entry points

# The README's promise: on a fresh machine this does all set-up and runs every
# test. Order matters (system deps, venv, extension, C tests, Python tests),
# and each step also names its own prerequisites so `make -j` stays correct.
test: criterion venv build ctest ctest-tsan fuzz-ci leakcheck pytest package-check ## set up everything, run all C and Python tests, check the packages

demo: venv build ## set up everything, run the demo on built-in data
	$(VPY) -m timelog

# Benchmarks are slow and machine-dependent, so they are never part of `test`.
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

# ------------------------------------------------------------------ Python environment

venv: $(VENV_STAMP) ## create .venv and install build + test requirements

# Re-runs only when requirements-dev.txt changes (or the venv is new), so a
# second `make test` does not touch the network. On a bare Debian the system
# Python lacks ensurepip (package pythonX.Y-venv); install it and retry.
$(VENV_STAMP): requirements-dev.txt
	@if [[ ! -x $(VPY) ]]; then
	  echo "== creating $(VENV) with $(PYTHON)"
	  rm -rf $(VENV)
	  if ! $(PYTHON) -m venv $(VENV); then
	    echo "python venv module unusable; installing it with apt-get" >&2
	    rm -rf $(VENV)
	    pkg=$$($(PYTHON) -c 'import sys; print("python3.%d-venv" % sys.version_info[1])')
	    $(call as_root,apt-get update)
	    $(call as_root,$(APT_INSTALL) $$pkg) || $(call as_root,$(APT_INSTALL) python3-venv)
	    $(PYTHON) -m venv $(VENV)
	  fi
	fi
	echo "== installing requirements-dev.txt into $(VENV)"
	$(VPIP) install -q -U pip
	$(VPIP) install -q -U -r requirements-dev.txt
	touch $@

# Compiling the extension needs Python.h, which a bare Debian Python lacks
# (package pythonX.Y-dev). Checked against the venv's interpreter.
$(VENV)/.headers-stamp: $(VENV_STAMP)
	@inc=$$($(VPY) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
	if [[ ! -f "$$inc/Python.h" ]]; then
	  echo "Python.h missing in $$inc; installing Python headers with apt-get" >&2
	  pkg=$$($(VPY) -c 'import sys; print("python3.%d-dev" % sys.version_info[1])')
	  $(call as_root,apt-get update)
	  $(call as_root,$(APT_INSTALL) $$pkg) || $(call as_root,$(APT_INSTALL) python3-dev)
	fi
	touch $@

# ------------------------------------------------------------------ the extension

build: $(BUILD_STAMP) ## compile timelog._core in place (engine + binding)

# The stamp records a successful in-place build; it is redone whenever an
# engine or binding source, the build script or the venv changes. If the
# compiled module itself has gone missing (say, `git clean`), FORCE rebuilds.
# When a source file was added, removed or renamed, setuptools would still see
# an up-to-date module (nothing is newer than it), so that case uses --force.
ifeq ($(wildcard timelog/_core*.so timelog/_core*.pyd),)
$(BUILD_STAMP): FORCE
endif
$(BUILD_STAMP): $(ENGINE_SRCS) $(ENGINE_HDRS) $(BINDING_SRCS) setup.py pyproject.toml \
                build/sources.list $(VENV_STAMP) $(VENV)/.headers-stamp
	@force=
	if [[ build/sources.list -nt $@ ]]; then force=--force; fi
	echo "== building timelog._core in place"
	$(VPY) setup.py build_ext --inplace -j 2 $$force
	touch $@

# Files whose content is a list of sources, rewritten only when the list
# changes: a target that depends on one is rebuilt when a source is added or
# removed, which plain timestamps cannot see.
define write_if_changed
@mkdir -p $(@D)
new='$(1)'
if [[ ! -f $@ || "$$(< $@)" != "$$new" ]]; then printf '%s\n' "$$new" > $@; fi
endef

build/sources.list: FORCE
	$(call write_if_changed,$(ENGINE_SRCS) $(BINDING_SRCS))

$(CBUILD)/sources.list: FORCE
	$(call write_if_changed,$(ENGINE_SRCS) $(CTEST_SRCS))

.PHONY: FORCE
FORCE:

# ------------------------------------------------------------------ C tests (Criterion)

# Criterion comes from Debian's libcriterion-dev; install it only when its
# header is missing, so a machine that has it never needs root.
criterion: ## install libcriterion-dev with apt-get if it is missing
	@if [[ ! -f /usr/include/criterion/criterion.h ]]; then
	  echo "Criterion not found; installing libcriterion-dev with apt-get" >&2
	  $(call as_root,apt-get update)
	  $(call as_root,$(APT_INSTALL) libcriterion-dev)
	fi

CTEST_CFLAGS := -std=c17 -Wall -Wextra -Werror -Icsrc -Itests/c -pthread
CTEST_LIBS   := -lcriterion -lm -pthread
PLAIN_FLAGS  := -O2
ASAN_FLAGS   := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all
# Criterion runs tests in worker processes; 2 matches the machine's 2 cores.
CRITERION_RUN := --jobs 2

# Objects are kept per configuration (and per source directory, so that
# csrc/foo.c and tests/c/foo.c cannot collide). -MMD -MP writes header
# dependencies next to each object, so editing a header rebuilds what uses it.
plain_objs = $(patsubst %.c,$(CBUILD)/$(1)/%.o,$(ENGINE_SRCS) $(CTEST_SRCS))

PLAIN_OBJS := $(call plain_objs,plain)
ASAN_OBJS  := $(call plain_objs,asan)
CLANG_OBJS := $(call plain_objs,clang)

$(CBUILD)/plain/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $(PLAIN_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/asan/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $(ASAN_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/clang/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CLANG) $(CTEST_CFLAGS) $(PLAIN_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/test_plain: $(PLAIN_OBJS) $(CBUILD)/sources.list
	$(CC) $(PLAIN_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

$(CBUILD)/test_asan: $(ASAN_OBJS) $(CBUILD)/sources.list
	$(CC) $(ASAN_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

$(CBUILD)/test_clang: $(CLANG_OBJS) $(CBUILD)/sources.list
	$(CLANG) $(PLAIN_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

-include $(PLAIN_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(CLANG_OBJS:.o=.d)

ctest: ctest-plain ctest-asan ## build and run the Criterion tests, plain and under ASan+UBSan

ctest-plain: $(CBUILD)/test_plain
	@echo "== Criterion tests (plain, $(CC) -O2)"
	$(CBUILD)/test_plain $(CRITERION_RUN) || { echo "error: Criterion tests failed (plain)" >&2; exit 1; }

# Criterion reports a test as passed before LeakSanitizer runs at the worker's
# exit, so a leak alone does not change its exit status: scan the output for
# sanitizer reports as well, and fail on any.
ctest-asan: $(CBUILD)/test_asan
	@echo "== Criterion tests (ASan+UBSan, $(CC) -O1)"
	log=$(CBUILD)/test_asan.log
	rc=0
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CBUILD)/test_asan $(CRITERION_RUN) 2>&1 | tee "$$log" || rc=$$?
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$$log"; then
	  echo "error: sanitizer reports in the Criterion run (see $$log)" >&2
	  exit 1
	fi
	exit $$rc

# A second compiler catches non-portable C; not part of `test` because clang
# may be absent. Skips (successfully) when it is.
ctest-clang: ## build and run the plain Criterion tests with clang, if installed
	@if ! command -v $(CLANG) >/dev/null 2>&1; then
	  echo "$(CLANG) not installed; skipping ctest-clang"
	  exit 0
	fi
	$(MAKE) --no-print-directory $(CBUILD)/test_clang
	echo "== Criterion tests (plain, $(CLANG) -O2)"
	$(CBUILD)/test_clang $(CRITERION_RUN)

# ------------------------------------------------------------------ C tests (ThreadSanitizer)

# Criterion's runtime does not start under TSan ("Could not initialize
# inheritable arena"), so the concurrency scenarios in tests/c/stress_core.c
# also build into a standalone program, tests/c/tsan/stress_main.c (kept in a
# subdirectory, out of the tests/c/*.c glob above). It runs the writer /
# readers / worker stress and the backpressure and close scenarios for a few
# seconds; TSan halts on the first race, the program fails on any check.
TSAN_SRCS    := tests/c/stress_core.c tests/c/tsan/stress_main.c
TSAN_FLAGS   := -fsanitize=thread -O1 -g -fno-omit-frame-pointer
TSAN_SECONDS ?= 2

$(CBUILD)/stress_tsan: $(ENGINE_SRCS) $(ENGINE_HDRS) $(TSAN_SRCS) tests/c/stress_core.h | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $(TSAN_FLAGS) -o $@ $(ENGINE_SRCS) $(TSAN_SRCS) -lm -pthread

# Some kernels randomise mmap with more bits than TSan's runtime expects
# ("unexpected memory mapping"); then retry once with ASLR off.
ctest-tsan: $(CBUILD)/stress_tsan ## run the concurrency stress program under ThreadSanitizer
	@echo "== concurrency stress under ThreadSanitizer ($(CC) -O1)"
	log=$(CBUILD)/stress_tsan.log
	rc=0
	TSAN_OPTIONS=halt_on_error=1 $(CBUILD)/stress_tsan $(TSAN_SECONDS) 2>&1 | tee "$$log" || rc=$$?
	if [[ $$rc -ne 0 ]] && grep -q 'unexpected memory mapping' "$$log" && command -v setarch >/dev/null 2>&1; then
	  echo "TSan cannot map its shadow memory with this ASLR setting; retrying without ASLR" >&2
	  rc=0
	  TSAN_OPTIONS=halt_on_error=1 setarch "$$(uname -m)" -R $(CBUILD)/stress_tsan $(TSAN_SECONDS) 2>&1 | tee "$$log" || rc=$$?
	fi
	if [[ $$rc -ne 0 ]]; then echo "error: ThreadSanitizer stress run failed (see $$log)" >&2; fi
	exit $$rc

# ------------------------------------------------------------------ fuzzing (libFuzzer) and leak check (valgrind)

# tests/fuzz/fuzz_ops.c turns its input bytes into a config and a sequence of
# engine calls and checks every result against the reference model,
# tl_validate and the counting allocator; any mismatch aborts, which libFuzzer
# reports as a crash (and make as a failure). It needs clang with its libFuzzer
# runtime: Debian's clang, plus libclang-rt-N-dev, which clang only recommends.
#   make fuzz      fuzz FUZZ_SECONDS (600) on a copy of tests/fuzz/corpus, then
#                  merge the inputs that reach new edges back into it
#   make fuzz-ci   fuzz 60 s from the committed corpus without writing to it
# A crash leaves its input in tests/c/build/fuzz*/artifacts/; replay it with
# `tests/c/build/fuzz_ops FILE` (FUZZ_OPS_TRACE=1 prints every operation).
FUZZ_BIN      := $(CBUILD)/fuzz_ops
FUZZ_SRCS     := tests/c/test_util.c tests/fuzz/fuzz_ops.c
FUZZ_CORPUS   := tests/fuzz/corpus
FUZZ_SECONDS  ?= 600
FUZZ_CFLAGS   := -std=c17 -Wall -Wextra -Werror -Icsrc -Itests/c -pthread -g -O1 \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN      := -timeout=60 -rss_limit_mb=4096 -print_final_stats=1
# Merging back by edges only (not libFuzzer's finer features: hit counts,
# comparisons) keeps the committed corpus to inputs that reach new code.
FUZZ_MERGE    := -use_counters=0 -use_value_profile=0 -use_cmp=0

.PHONY: fuzz fuzz-ci fuzz-deps leakcheck valgrind-deps

fuzz-deps: ## install clang and its libFuzzer runtime with apt-get if missing
	@probe() {
	  local d rc=0
	  d=$$(mktemp -d)
	  printf 'int LLVMFuzzerTestOneInput(const unsigned char *p, unsigned long n) { (void)p; (void)n; return 0; }\n' > "$$d/p.c"
	  $(CLANG) -fsanitize=fuzzer,address,undefined "$$d/p.c" -o "$$d/p" >/dev/null 2>&1 || rc=1
	  rm -rf "$$d"
	  return $$rc
	}
	if probe; then exit 0; fi
	echo "$(CLANG) cannot build a libFuzzer target; installing clang with apt-get" >&2
	$(call as_root,apt-get update)
	$(call as_root,$(APT_INSTALL) clang)
	if ! probe; then
	  major=$$($(CLANG) -dumpversion | cut -d. -f1)
	  $(call as_root,$(APT_INSTALL) libclang-rt-$$major-dev)
	fi
	probe || { echo "error: $(CLANG) still cannot link -fsanitize=fuzzer" >&2; exit 1; }

$(FUZZ_BIN): $(ENGINE_SRCS) $(ENGINE_HDRS) $(FUZZ_SRCS) tests/c/test_util.h \
             tests/c/criterion_shim.h | fuzz-deps criterion
	mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $(ENGINE_SRCS) $(FUZZ_SRCS) -lm

fuzz: $(FUZZ_BIN) ## fuzz the engine for FUZZ_SECONDS (600), merge new inputs into tests/fuzz/corpus
	@work=$(CBUILD)/fuzz
	rm -rf "$$work" && mkdir -p "$$work/corpus" "$$work/artifacts" $(FUZZ_CORPUS)
	$(PYTHON) tests/fuzz/make_corpus.py "$$work/corpus"
	cp -r $(FUZZ_CORPUS)/. "$$work/corpus/"
	echo "== fuzzing for $(FUZZ_SECONDS) s from a copy of $(FUZZ_CORPUS) ($$(ls $(FUZZ_CORPUS) | wc -l) inputs)"
	$(FUZZ_BIN) $(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix="$$work/artifacts/" \
	  "$$work/corpus" || { echo "error: the fuzzer found a failure; input in $$work/artifacts/" >&2; exit 1; }
	echo "== merging inputs that reach new edges into $(FUZZ_CORPUS)"
	$(FUZZ_BIN) -merge=1 $(FUZZ_MERGE) -artifact_prefix="$$work/artifacts/" $(FUZZ_CORPUS) "$$work/corpus"
	echo "$(FUZZ_CORPUS) now holds $$(ls $(FUZZ_CORPUS) | wc -l) inputs"

# New inputs go to a scratch directory (the first one libFuzzer is given), so
# the committed corpus is only read. The seeds are also regenerated from
# tests/fuzz/make_corpus.py, so a tree without the corpus (an sdist) still
# starts from them.
fuzz-ci: FUZZ_SECONDS = 60
fuzz-ci: $(FUZZ_BIN) ## fuzz for 60 s from tests/fuzz/corpus without writing to it (part of test)
	@work=$(CBUILD)/fuzz-ci
	rm -rf "$$work" && mkdir -p "$$work/new" "$$work/artifacts"
	$(PYTHON) tests/fuzz/make_corpus.py "$$work/seeds"
	dirs=("$$work/seeds")
	if [[ -d $(FUZZ_CORPUS) ]]; then dirs+=($(FUZZ_CORPUS)); fi
	echo "== fuzzing for $(FUZZ_SECONDS) s from $${dirs[*]} (read-only)"
	$(FUZZ_BIN) $(FUZZ_RUN) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix="$$work/artifacts/" \
	  "$$work/new" "$${dirs[@]}" || { echo "error: the fuzzer found a failure; input in $$work/artifacts/" >&2; exit 1; }

# tests/c/leak_workload/leak_main.c is a long mixed workload (disabled and
# background maintenance, the libc allocator, injected allocation failures,
# closing with snapshots pinned, open failures) that checks after every close
# that the counting allocator is empty and every handle was dropped exactly
# once; valgrind checks the process as a whole (definite and indirect leaks
# and memory errors fail). LEAK_SCALE multiplies its length (4: about 15 s here).
LEAK_BIN    := $(CBUILD)/leak_main
LEAK_SRCS   := tests/c/test_util.c tests/c/leak_workload/leak_main.c
LEAK_SCALE  ?= 4
VALGRIND    := valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
               --show-leak-kinds=definite,indirect --error-exitcode=1

valgrind-deps: ## install valgrind with apt-get if it is missing
	@if ! command -v valgrind >/dev/null 2>&1; then
	  echo "valgrind not found; installing it with apt-get" >&2
	  $(call as_root,apt-get update)
	  $(call as_root,$(APT_INSTALL) valgrind)
	fi

$(LEAK_BIN): $(ENGINE_SRCS) $(ENGINE_HDRS) $(LEAK_SRCS) tests/c/test_util.h \
             tests/c/criterion_shim.h | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) -O1 -g -o $@ $(ENGINE_SRCS) $(LEAK_SRCS) -lm -pthread

leakcheck: $(LEAK_BIN) | valgrind-deps ## run the long mixed C workload under valgrind memcheck (part of test)
	@echo "== mixed C workload under valgrind memcheck (scale $(LEAK_SCALE))"
	$(VALGRIND) $(LEAK_BIN) $(LEAK_SCALE) || { echo "error: valgrind or the workload's own checks failed" >&2; exit 1; }

# ------------------------------------------------------------------ Python tests

# `python -m pytest` puts the repo root on sys.path, so the in-place build is
# what gets imported; no install step is needed.
pytest: build ## run the Python test suite against the in-place build
	$(VPY) -m pytest -q tests

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

# ------------------------------------------------------------------ packaging

# `python -m build` builds in an isolated environment from pyproject.toml, so
# the artefacts do not depend on what happens to be in .venv.
sdist: venv ## build the source distribution into dist/
	$(VPIP) install -q build
	$(VPY) -m build --sdist

# The wheel is built from the sdist (python -m build's default), never from the
# work tree: stale files under build/ cannot leak into it, and a file missing
# from MANIFEST.in fails here instead of on a user's machine.
wheel: venv ## build the sdist, then a wheel from it, into dist/
	$(VPIP) install -q build
	$(VPY) -m build

# What a user gets: build the sdist and, from it, the wheel; `twine check`
# their metadata; install each into its own fresh venv (NumPy from PyPI; the
# sdist compiles the extension there) and run tests/package_smoke.py from a
# directory outside the repo, so that only the installed copy can be imported.
PKGCHECK := build/pkgcheck
.PHONY: package-check
package-check: venv ## build sdist + wheel, twine check, install each in a fresh venv, smoke test
	@rm -rf $(PKGCHECK)
	mkdir -p $(PKGCHECK)/dist
	echo "== package-check: python -m build (sdist, then the wheel from it)"
	$(VPY) -m build --outdir $(PKGCHECK)/dist . > $(PKGCHECK)/build.log 2>&1 || { tail -40 $(PKGCHECK)/build.log; exit 1; }
	$(VPY) -m twine check --strict $(PKGCHECK)/dist/*
	smoke_dir=$$(mktemp -d /tmp/timelog-pkgcheck.XXXXXX)
	trap 'rm -rf "$$smoke_dir"' EXIT
	cp tests/package_smoke.py "$$smoke_dir/"
	for kind in sdist wheel; do
	  if [[ $$kind == sdist ]]; then art=$$(ls $(PKGCHECK)/dist/*.tar.gz); else art=$$(ls $(PKGCHECK)/dist/*.whl); fi
	  env_dir=$(CURDIR)/$(PKGCHECK)/venv-$$kind
	  echo "== package-check: installing $$(basename $$art) into a fresh venv"
	  $(VPY) -m venv "$$env_dir"
	  "$$env_dir/bin/pip" install -q -U pip > /dev/null 2>&1
	  "$$env_dir/bin/pip" install -q numpy
	  "$$env_dir/bin/pip" install -q "$(CURDIR)/$$art" > $(PKGCHECK)/install-$$kind.log 2>&1 || { tail -40 $(PKGCHECK)/install-$$kind.log; exit 1; }
	  (cd "$$smoke_dir" && "$$env_dir/bin/python" package_smoke.py)
	done

# ------------------------------------------------------------------ cleaning

clean: ## remove build products (keeps .venv)
	rm -rf build dist *.egg-info $(CBUILD)
	rm -f timelog/_core.c timelog/*.html timelog/_core*.so timelog/_core*.pyd
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 -r rm -rf
	rm -rf .pytest_cache .hypothesis .benchmarks

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)

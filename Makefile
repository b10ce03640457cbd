# timelog: build, test and packaging entry points (GNU make).
#
#   make test    set everything up on a fresh machine, then run every test:
#                Criterion C tests plain and under ASan+UBSan, then pytest, then
#                the memory-safety tests against an ASan-built extension
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
BINDING_SRCS := $(sort $(wildcard timelog/*.pyx timelog/*.pxd timelog/*.pxi))

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
test: criterion venv build ctest ctest-tsan fuzz-ci leakcheck pytest test-asan package-check ## set up everything, run all C and Python tests, check the packages

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

# ------------------------------------------------------------------ Windows engine (mingw-w64 + Wine)

# The engine and its C tests cross-compiled for 64-bit Windows with Debian's
# mingw-w64 in its "win32" thread model: no winpthreads, so the engine can
# only use Win32 threads and locks (csrc/tl_sync_win32.c), as under MSVC;
# the link is checked to import no libwinpthread. The binaries run under
# Debian's Wine (wine64, whose loader is not on PATH) in a throwaway prefix
# under build/. runner.exe is every Criterion test file (tests/c/*.c,
# including the randomized model and the stress scenarios) built against a
# small stand-in for Criterion (tests/c/win/); stress.exe is the standalone
# stress program (tests/c/tsan/stress_main.c).
WIN_CC     := x86_64-w64-mingw32-gcc-win32
WIN_OBJDUMP := x86_64-w64-mingw32-objdump
WINE       ?= /usr/lib/wine/wine64
WBUILD     := build/win
WIN_CFLAGS := -std=c17 -O2 -Wall -Wextra -Werror -D__USE_MINGW_ANSI_STDIO=1 \
              -Itests/c/win -Icsrc -Itests/c
WIN_RUNNER_SRCS := $(ENGINE_SRCS) $(CTEST_SRCS) tests/c/win/runner.c
WIN_STRESS_SRCS := $(ENGINE_SRCS) tests/c/stress_core.c tests/c/tsan/stress_main.c
WIN_SECONDS ?= 2

.PHONY: win-deps test-windows
win-deps: ## install mingw-w64 and Wine with apt-get if missing
	@if ! command -v $(WIN_CC) >/dev/null 2>&1 || [[ ! -x $(WINE) ]]; then
	  echo "mingw-w64 or Wine not found; installing gcc-mingw-w64-x86-64 and wine64 with apt-get" >&2
	  $(call as_root,apt-get update)
	  $(call as_root,$(APT_INSTALL) gcc-mingw-w64-x86-64 wine64)
	fi

$(WBUILD)/runner.exe: $(WIN_RUNNER_SRCS) $(ENGINE_HDRS) $(wildcard tests/c/*.h) \
                      tests/c/win/criterion/criterion.h | win-deps
	mkdir -p $(@D)
	$(WIN_CC) $(WIN_CFLAGS) -o $@ $(WIN_RUNNER_SRCS)

$(WBUILD)/stress.exe: $(WIN_STRESS_SRCS) $(ENGINE_HDRS) tests/c/stress_core.h | win-deps
	mkdir -p $(@D)
	$(WIN_CC) $(filter-out -Itests/c/win,$(WIN_CFLAGS)) -o $@ $(WIN_STRESS_SRCS)

test-windows: $(WBUILD)/runner.exe $(WBUILD)/stress.exe ## cross-build the engine + C tests for Windows (mingw-w64, win32 threads) and run them under Wine
	@for exe in $^; do
	  if $(WIN_OBJDUMP) -p "$$exe" | grep -qi 'DLL Name: libwinpthread'; then
	    echo "error: $$exe imports libwinpthread: the engine must use Win32 threads only" >&2; exit 1
	  fi
	  echo "$$exe imports: $$($(WIN_OBJDUMP) -p "$$exe" | sed -n 's/^\s*DLL Name: //p' | tr '\n' ' ')"
	done
	wine=$(WINE)
	if [[ ! -x $$wine ]]; then wine=$$(dpkg -L wine64 | grep -E '/wine64$$' | head -1); fi
	wineserver=$$(dirname "$$wine")/wineserver64
	[[ -x $$wineserver ]] || wineserver=$$(dirname "$$wine")/wineserver
	# A fresh prefix per run; Wine's server lingers a few seconds after the
	# last program, so stop one left over from an earlier run first.
	export WINEPREFIX=$(CURDIR)/$(WBUILD)/wineprefix WINEDEBUG=-all
	if [[ -d $$WINEPREFIX ]]; then "$$wineserver" -k 2>/dev/null || true; fi
	rm -rf "$$WINEPREFIX" && mkdir -p "$$WINEPREFIX"
	echo "== C tests under Wine ($$($$wine --version 2>/dev/null || echo wine))"
	rc=0
	timeout 1200 "$$wine" $(WBUILD)/runner.exe > $(WBUILD)/runner.log 2>&1 || rc=$$?
	grep -E '^\[FAIL\]|assertion failed' $(WBUILD)/runner.log || true
	last=$$(tail -1 $(WBUILD)/runner.log | tr -d "\r")  # msvcrt writes CRLF
	echo "runner.exe: $$last"
	if (( rc != 0 )) || ! [[ $$last =~ ^[0-9]+\ passed,\ 0\ failed$$ ]]; then
	  echo "error: C tests failed under Wine (exit $$rc; see $(WBUILD)/runner.log)" >&2; exit 1
	fi
	echo "== stress program under Wine ($(WIN_SECONDS) s per stress run)"
	timeout 600 "$$wine" $(WBUILD)/stress.exe $(WIN_SECONDS) || { echo "error: the stress program failed under Wine" >&2; exit 1; }
	"$$wineserver" -w 2>/dev/null || true  # leave no Wine process behind

# ------------------------------------------------------------------ Python tests

# `python -m pytest` puts the repo root on sys.path, so the in-place build is
# what gets imported; no install step is needed.
pytest: build ## run the Python test suite against the in-place build
	$(VPY) -m pytest -q tests

# Every CPython >= 3.10 under the pyenv root (`pyenv root`, else ~/.pyenv),
# each in its own venv (build/matrix/venv-X.Y.Z) with requirements-dev.txt,
# building and testing a private copy of the tree (build/matrix/src-X.Y.Z):
# tests that start a subprocess with PYTHONPATH=<repo root> (the notebook,
# typing) must find that version's extension beside the sources, and the copy
# keeps every version's build products out of the work tree and of `make
# build`. Only wheels are installed (--only-binary): a dependency without a
# wheel for some version fails loudly with its name instead of compiling for
# minutes. The C tests are not repeated: they do not depend on Python.
# MATRIX_SKIP lists versions (X.Y or X.Y.Z) not to run: .ci/run passes the
# one `make test` has just run the same suite on.
MATRIX := build/matrix
MATRIX_SKIP ?=
.PHONY: test-matrix
test-matrix: ## run the pytest suite on every CPython >= 3.10 found under the pyenv root
	@root=$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv")
	pythons=()
	for py in "$$root"/versions/*/bin/python3; do
	  [[ -x $$py ]] || continue
	  if "$$py" -c 'import sys; sys.exit(not (sys.implementation.name == "cpython" and sys.version_info >= (3, 10)))' 2>/dev/null; then
	    pythons+=("$$py")
	  fi
	done
	if (( $${#pythons[@]} == 0 )); then echo "error: no CPython >= 3.10 under $$root/versions" >&2; exit 1; fi
	mkdir -p $(MATRIX)
	summary=$(MATRIX)/summary.txt
	: > "$$summary"
	failed=0
	for py in "$${pythons[@]}"; do
	  ver=$$("$$py" -c 'import sys, sysconfig; print("%d.%d.%d%s" % (*sys.version_info[:3], "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
	  if [[ " $(MATRIX_SKIP) " == *" $$ver "* || " $(MATRIX_SKIP) " == *" $${ver%.*} "* ]]; then
	    echo "CPython $$ver: not run here (MATRIX_SKIP; make test ran it)" | tee -a "$$summary"
	    continue
	  fi
	  env_dir=$(CURDIR)/$(MATRIX)/venv-$$ver
	  src=$(MATRIX)/src-$$ver
	  log=$(CURDIR)/$(MATRIX)/pytest-$$ver.log
	  start=$$SECONDS
	  echo "== test-matrix: CPython $$ver ($$py)"
	  if [[ ! -f $$env_dir/.deps-stamp || requirements-dev.txt -nt $$env_dir/.deps-stamp ]]; then
	    rm -rf "$$env_dir"
	    "$$py" -m venv "$$env_dir"
	    "$$env_dir/bin/pip" install -q -U pip
	    if ! "$$env_dir/bin/pip" install -q --only-binary=:all: -r requirements-dev.txt; then
	      echo "error: CPython $$ver: a requirement of requirements-dev.txt has no wheel for this version (see pip's message above)" >&2
	      exit 1
	    fi
	    touch "$$env_dir/.deps-stamp"
	  fi
	  rm -rf "$$src" && mkdir -p "$$src"
	  tar -c --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
	      --exclude=./tests/c/build --exclude='*.so' --exclude=./timelog/_core.c \
	      --exclude=__pycache__ --exclude=.hypothesis --exclude=.pytest_cache --exclude=.mypy_cache . \
	    | tar -x -C "$$src"
	  (cd "$$src" && "$$env_dir/bin/python" setup.py -q build_ext --inplace -j 2) > "$(MATRIX)/build-$$ver.log" 2>&1 \
	    || { tail -30 "$(MATRIX)/build-$$ver.log"; echo "error: CPython $$ver: the extension did not build" >&2; exit 1; }
	  rc=0
	  (cd "$$src" && "$$env_dir/bin/python" -m pytest -q -p no:cacheprovider tests) > "$$log" 2>&1 || rc=$$?
	  line=$$(tail -1 "$$log")
	  echo "CPython $$ver: $$line (wall $$((SECONDS - start)) s incl. setup)" | tee -a "$$summary"
	  if (( rc != 0 )); then grep -E '^(FAILED|ERROR)' "$$log" | head -20 || true; failed=1; fi
	done
	echo "== test-matrix summary"
	cat "$$summary"
	if (( failed )); then echo "error: pytest failed on some CPython (logs: $(MATRIX)/pytest-*.log)" >&2; exit 1; fi

# ------------------------------------------------------------------ the extension under ASan+UBSan
# timelog._core built with -fsanitize=address,undefined into build/asan (the
# in-place build is untouched), then the tests about memory safety run
# against it: re-entrancy (finalizers and __index__ that read, write, delete,
# compact, close and reopen), cross-thread close, snapshot lifetime, the
# re-entrancy storm (ASAN_STORM_SECONDS) and the GC-torture state machine.
# The Python is not instrumented, so libasan is preloaded; PYTHONMALLOC=malloc
# sends every Python object through ASan's allocator, so a payload released
# too early is a heap-use-after-free report. detect_leaks=0: CPython itself
# leaves allocations behind at exit (not ours to chase here; the engine's own
# leaks are checked by ctest-asan and leakcheck). allocator_may_return_null:
# some tests ask for impossible sizes and expect MemoryError. Fails on any
# sanitizer report, even one printed from a finalizer or a thread.
ASAN_PY_DIR        := build/asan
ASAN_PY_CFLAGS     := -g -fsanitize=address,undefined -fno-omit-frame-pointer \
                      -fno-sanitize-recover=all
ASAN_STORM_SECONDS ?= 30
ASAN_TORTURE_EXAMPLES ?= 30
# The memory-safety subset of the suite (the whole suite takes far longer
# than the ~5 minutes this target aims at on 2 cores).
ASAN_PY_TESTS      ?= tests/test_release_safety.py tests/test_reentry_storm.py \
                      tests/test_gc_torture.py tests/test_reentrancy.py \
                      tests/test_concurrency.py tests/test_snapshot_lifetime.py \
                      tests/test_object_release.py tests/test_busy.py

.PHONY: test-asan
test-asan: venv $(VENV)/.headers-stamp ## build timelog._core with ASan+UBSan (build/asan) and run the memory-safety tests on it
	@echo "== building timelog._core with ASan+UBSan into $(ASAN_PY_DIR)"
	CFLAGS="$(ASAN_PY_CFLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  $(VPY) setup.py -q build_ext -j 2 --build-lib $(ASAN_PY_DIR)/lib --build-temp $(ASAN_PY_DIR)/tmp
	cp timelog/*.py timelog/py.typed $(ASAN_PY_DIR)/lib/timelog/
	libasan=$$($(CC) -print-file-name=libasan.so)
	log=$(CURDIR)/$(ASAN_PY_DIR)/pytest.log
	tests=$$(for t in $(ASAN_PY_TESTS); do printf '%s ' "$(CURDIR)/$$t"; done)
	cd $(ASAN_PY_DIR)/lib
	export LD_PRELOAD="$$libasan" PYTHONMALLOC=malloc TIMELOG_STORM_SECONDS=$(ASAN_STORM_SECONDS) \
	  TIMELOG_TORTURE_EXAMPLES=$(ASAN_TORTURE_EXAMPLES) \
	  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	# The working directory comes first on sys.path: the ASan build, never
	# the in-place one (checked, not assumed).
	$(CURDIR)/$(VPY) -c 'import timelog._core as c, sys; f = c.__file__; print("== ASan extension:", f); sys.exit("/$(ASAN_PY_DIR)/" not in f)'
	rc=0
	$(CURDIR)/$(VPY) -m pytest -q -p no:cacheprovider -o faulthandler_timeout=600 \
	  --rootdir=$(CURDIR) $$tests 2>&1 | tee "$$log" || rc=$$?
	if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$$log"; then
	  echo "error: sanitizer reports in the ASan pytest run (see $$log)" >&2
	  exit 1
	fi
	exit $$rc

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

# mk/python.mk: the venv, the in-place extension, pytest, and the extension under ASan+UBSan.
#
# Included by the Makefile, which defines VENV, VPY, the source lists and the
# stamps.

# ------------------------------------------------------------------ Python environment

.PHONY: venv build pytest

venv: $(VENV_STAMP) ## create .venv and install build + test requirements

# Re-runs only when requirements-dev.txt changes (or the venv is new), so a
# second `make test` does not touch the network. tools/provision.sh creates
# the venv (installing Debian's venv module first when the Python lacks it).
$(VENV_STAMP): requirements-dev.txt
	tools/provision.sh venv $(PYTHON) $(VENV)
	touch $@

# Compiling the extension needs Python.h, which a bare Debian Python lacks.
$(VENV)/.headers-stamp: $(VENV_STAMP)
	tools/provision.sh headers $(VENV)
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


# ------------------------------------------------------------------ Python tests

# `python -m pytest` puts the repo root on sys.path, so the in-place build is
# what gets imported; no install step is needed.
pytest: build ## run the Python test suite against the in-place build
	$(VPY) -m pytest -q tests
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
# some tests ask for impossible sizes and expect MemoryError. libstdc++ is
# preloaded too: python3 does not link it, so ASan's __cxa_throw interceptor
# would find no real __cxa_throw when pyarrow (C++) throws, and abort the
# process ("CHECK failed: asan_interceptors.cpp ... real___cxa_throw") on the
# first exception pyarrow raises and catches itself, e.g. reading a file
# that is not Parquet. Fails on any sanitizer report, even one printed from
# a finalizer or a thread.
ASAN_PY_DIR        := build/asan
ASAN_PY_CFLAGS     := -g -fsanitize=address,undefined -fno-omit-frame-pointer \
                      -fno-sanitize-recover=all
ASAN_STORM_SECONDS ?= 30
ASAN_TORTURE_EXAMPLES ?= 30
# The memory-safety subset of the suite (the whole suite takes far longer
# than the ~5 minutes this target aims at on 2 cores). test_repr.py is in it
# because the log's HTML preview turns pinned handles into objects and has a
# payload __repr__ close the log (2 s). test_arrow_in.py and
# test_save_load.py hand Arrow buffers to bulk_append (about 15 s together).
ASAN_PY_TESTS      ?= tests/test_release_safety.py tests/test_reentry_storm.py \
                      tests/test_gc_torture.py tests/test_reentrancy.py \
                      tests/test_concurrency.py tests/test_snapshot_lifetime.py \
                      tests/test_object_release.py tests/test_busy.py \
                      tests/test_arrow.py tests/test_repr.py \
                      tests/test_arrow_in.py tests/test_save_load.py

.PHONY: test-asan
test-asan: venv $(VENV)/.headers-stamp ## build timelog._core with ASan+UBSan (build/asan) and run the memory-safety tests on it
	@echo "== building timelog._core with ASan+UBSan into $(ASAN_PY_DIR)"
	CFLAGS="$(ASAN_PY_CFLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  $(VPY) setup.py -q build_ext -j 2 --build-lib $(ASAN_PY_DIR)/lib --build-temp $(ASAN_PY_DIR)/tmp
	cp timelog/*.py timelog/py.typed $(ASAN_PY_DIR)/lib/timelog/
	libasan=$$($(CC) -print-file-name=libasan.so)
	libstdcxx=$$($(CC) -print-file-name=libstdc++.so.6)
	[[ -e $$libstdcxx ]] || libstdcxx=    # no C++ runtime: nothing can throw
	log=$(CURDIR)/$(ASAN_PY_DIR)/pytest.log
	tests=$$(for t in $(ASAN_PY_TESTS); do printf '%s ' "$(CURDIR)/$$t"; done)
	cd $(ASAN_PY_DIR)/lib
	export LD_PRELOAD="$$libasan $$libstdcxx" PYTHONMALLOC=malloc TIMELOG_STORM_SECONDS=$(ASAN_STORM_SECONDS) \
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


# ------------------------------------------------------------------ the example notebook

.PHONY: notebook

# docs/examples/exploring.ipynb is committed with its outputs (tables, the
# plot); tests/test_notebook.py fails when they no longer match a fresh run.
notebook: build ## re-execute docs/examples/exploring.ipynb headless and save its outputs
	$(VPY) tools/run_notebook.py

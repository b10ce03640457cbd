# mk/ctest.mk: the Criterion C tests (plain, ASan+UBSan, TL_DEBUG, clang) and the TSan stress program.
#
# Included by the Makefile, which defines CC, CLANG, CBUILD and the source lists.

# ------------------------------------------------------------------ C tests (Criterion)

.PHONY: criterion ctest ctest-plain ctest-asan ctest-debug ctest-clang ctest-tsan

# Criterion comes from Debian's libcriterion-dev; install it only when its
# header is missing, so a machine that has it never needs root.
# Criterion comes from Debian's libcriterion-dev, installed only when its
# header is missing, so a machine that has it never needs root.
criterion: ## install libcriterion-dev with apt-get if it is missing
	@tools/provision.sh criterion

CTEST_CFLAGS := -std=c17 -Wall -Wextra -Werror -Icsrc -Itests/c -Itests/c/support -pthread
CTEST_LIBS   := -lcriterion -lm -pthread
PLAIN_FLAGS  := -O2
# TL_DEBUG turns on what no release build runs: the validator of every
# manifest at publish time, and file:line on stderr for every error born
# through TL_ERR (tests that inject failures print many such lines: expected).
DEBUG_FLAGS  := -DTL_DEBUG -O1 -g -fsanitize=undefined -fno-omit-frame-pointer \
                -fno-sanitize-recover=all
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
DEBUG_OBJS := $(call plain_objs,debug)

$(CBUILD)/plain/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $(PLAIN_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/asan/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $(ASAN_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/debug/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) $(DEBUG_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/clang/%.o: %.c | criterion
	mkdir -p $(@D)
	$(CLANG) $(CTEST_CFLAGS) $(PLAIN_FLAGS) -MMD -MP -c $< -o $@

$(CBUILD)/test_plain: $(PLAIN_OBJS) $(CBUILD)/sources.list
	$(CC) $(PLAIN_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

$(CBUILD)/test_asan: $(ASAN_OBJS) $(CBUILD)/sources.list
	$(CC) $(ASAN_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

$(CBUILD)/test_debug: $(DEBUG_OBJS) $(CBUILD)/sources.list
	$(CC) $(DEBUG_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

$(CBUILD)/test_clang: $(CLANG_OBJS) $(CBUILD)/sources.list
	$(CLANG) $(PLAIN_FLAGS) -o $@ $(filter %.o,$^) $(CTEST_LIBS)

-include $(PLAIN_OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(CLANG_OBJS:.o=.d) $(DEBUG_OBJS:.o=.d)

ctest: ctest-plain ctest-asan ## build and run the Criterion tests, plain and under ASan+UBSan

ctest-plain: $(CBUILD)/test_plain
	@echo "== Criterion tests (plain, $(CC) -O2)"
	$(CBUILD)/test_plain $(CRITERION_RUN) || { echo "error: Criterion tests failed (plain)" >&2; exit 1; }

# Criterion reports a test as passed before LeakSanitizer runs at the worker's
# exit, so a leak alone does not change its exit status: scan the output for
# sanitizer reports as well, and fail on any (tools/scan_sanitizer_log.py;
# it lets through only libcriterion's own exit-time leak, see its docstring).
ctest-asan: $(CBUILD)/test_asan
	@echo "== Criterion tests (ASan+UBSan, $(CC) -O1)"
	log=$(CBUILD)/test_asan.log
	rc=0
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CBUILD)/test_asan $(CRITERION_RUN) 2>&1 | tee "$$log" || rc=$$?
	status=0
	$(PYTHON) tools/scan_sanitizer_log.py "$$log" --status "$$rc" || status=$$?
	if (( status != 0 )); then
	  echo "error: the Criterion run under ASan+UBSan failed, or left sanitizer reports (see $$log)" >&2
	fi
	exit $$status

# The debug build: the same tests with TL_DEBUG's publish-time validation
# live (an invalid manifest fails the publish with TL_EINTERNAL, so the test
# that triggered it fails) and UBSan. ASan is left to ctest-asan, which runs
# the same tests without TL_DEBUG: together they cost one ASan run, not two.
ctest-debug: $(CBUILD)/test_debug ## run the Criterion tests built with -DTL_DEBUG (publish-time validation) and UBSan
	@echo "== Criterion tests (TL_DEBUG + UBSan, $(CC) -O1)"
	log=$(CBUILD)/test_debug.log
	rc=0
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CBUILD)/test_debug $(CRITERION_RUN) > "$$log" 2>&1 || rc=$$?
	tail -3 "$$log"
	if grep -qE 'runtime error:' "$$log"; then
	  echo "error: UBSan reports in the TL_DEBUG run (see $$log)" >&2
	  exit 1
	fi
	if (( rc != 0 )); then grep -E '\[FAIL\]|CRASH' "$$log" | head -20 >&2 || true; echo "error: Criterion tests failed (TL_DEBUG; see $$log)" >&2; fi
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
TSAN_SRCS    := tests/c/stress_core.c tests/c/tsan/stress_main.c $(TSUPPORT_SRCS)
TSAN_FLAGS   := -fsanitize=thread -O1 -g -fno-omit-frame-pointer
TSAN_SECONDS ?= 2

$(CBUILD)/stress_tsan: $(ENGINE_SRCS) $(ENGINE_HDRS) $(TSAN_SRCS) tests/c/stress_core.h $(TSUPPORT_HDRS) | criterion
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


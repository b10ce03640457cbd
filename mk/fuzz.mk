# mk/fuzz.mk: libFuzzer (make fuzz, fuzz-ci) and the valgrind leak workload (make leakcheck).
#
# Included by the Makefile.

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
FUZZ_SRCS     := tests/c/test_util.c tests/fuzz/fuzz_ops.c $(TSUPPORT_SRCS)
FUZZ_CORPUS   := tests/fuzz/corpus
FUZZ_SECONDS  ?= 600
FUZZ_CFLAGS   := -std=c17 -Wall -Wextra -Werror -Icsrc -Itests/c -Itests/c/support -pthread -g -O1 \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_RUN      := -timeout=60 -rss_limit_mb=4096 -print_final_stats=1
# Merging back by edges only (not libFuzzer's finer features: hit counts,
# comparisons) keeps the committed corpus to inputs that reach new code.
FUZZ_MERGE    := -use_counters=0 -use_value_profile=0 -use_cmp=0

.PHONY: fuzz fuzz-ci fuzz-deps leakcheck valgrind-deps

fuzz-deps: ## install clang and its libFuzzer runtime with apt-get if missing
	@tools/provision.sh fuzz $(CLANG)

$(FUZZ_BIN): $(ENGINE_SRCS) $(ENGINE_HDRS) $(FUZZ_SRCS) tests/c/test_util.h $(TSUPPORT_HDRS) \
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
LEAK_SRCS   := tests/c/test_util.c tests/c/leak_workload/leak_main.c $(TSUPPORT_SRCS)
LEAK_SCALE  ?= 4
VALGRIND    := valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
               --show-leak-kinds=definite,indirect --error-exitcode=1

valgrind-deps: ## install valgrind with apt-get if it is missing
	@tools/provision.sh valgrind

$(LEAK_BIN): $(ENGINE_SRCS) $(ENGINE_HDRS) $(LEAK_SRCS) tests/c/test_util.h $(TSUPPORT_HDRS) \
             tests/c/criterion_shim.h | criterion
	mkdir -p $(@D)
	$(CC) $(CTEST_CFLAGS) -O1 -g -o $@ $(ENGINE_SRCS) $(LEAK_SRCS) -lm -pthread

leakcheck: $(LEAK_BIN) | valgrind-deps ## run the long mixed C workload under valgrind memcheck (part of test)
	@echo "== mixed C workload under valgrind memcheck (scale $(LEAK_SCALE))"
	$(VALGRIND) $(LEAK_BIN) $(LEAK_SCALE) || { echo "error: valgrind or the workload's own checks failed" >&2; exit 1; }


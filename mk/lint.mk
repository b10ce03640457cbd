# mk/lint.mk: static checks (make lint, part of test) and the formatter that
# satisfies them (make format).
#
# Included by the Makefile. Configuration: .clang-format for the C,
# [tool.ruff] and [tool.cython-lint] in pyproject.toml for Python and Cython.
# Ruff never sees the Cython files (it cannot parse them); cython-lint never
# sees the .py files.

CLANG_FORMAT ?= clang-format
# Every C file the project compiles: the engine, the C tests with their
# helpers and stand-ins, the fuzzer, the C benchmarks. tests/c/build holds
# only build products.
C_LINT_SRCS  = $(filter-out tests/c/build/%,$(sort $(wildcard \
                 csrc/*.[ch] tests/c/*.[ch] tests/c/*/*.[ch] tests/c/*/*/*.[ch] \
                 tests/fuzz/*.[ch] benchmarks/*.[ch])))
PY_LINT_SRCS = setup.py timelog tests benchmarks tools
CY_LINT_SRCS = $(sort $(wildcard timelog/*.pyx timelog/*.pxd timelog/*.pxi))
# cython-lint runs pycodestyle as a program: it must find the venv's.
VENV_PATH    = PATH="$(CURDIR)/$(VENV)/bin:$$PATH"

.PHONY: lint format clang-format-deps

clang-format-deps: ## install clang-format with apt-get if it is missing
	@CLANG_FORMAT=$(CLANG_FORMAT) tools/provision.sh clang-format

# Runs every check, then fails if any failed, so one run lists everything
# to fix (`make format` fixes all but a few lint findings).
lint: venv clang-format-deps ## check C formatting (clang-format), Python lint + formatting (ruff), Cython lint (cython-lint)
	@failed=()
	echo "== clang-format --dry-run ($$($(CLANG_FORMAT) --version | sed 's/.*version //'), $(words $(C_LINT_SRCS)) files)"
	$(CLANG_FORMAT) --dry-run -Werror $(C_LINT_SRCS) || failed+=(clang-format)
	echo "== ruff check"
	$(VENV)/bin/ruff check --no-cache $(PY_LINT_SRCS) || failed+=("ruff check")
	echo "== ruff format --check"
	$(VENV)/bin/ruff format --no-cache --check $(PY_LINT_SRCS) || failed+=("ruff format")
	echo "== cython-lint ($(words $(CY_LINT_SRCS)) files)"
	$(VENV_PATH) $(VENV)/bin/cython-lint $(CY_LINT_SRCS) || failed+=(cython-lint)
	if (( $${#failed[@]} )); then
	  echo "error: lint failed: $${failed[*]} (make format fixes formatting)" >&2
	  exit 1
	fi

format: venv clang-format-deps ## reformat C (clang-format -i) and Python (ruff format + ruff's safe fixes)
	$(CLANG_FORMAT) -i $(C_LINT_SRCS)
	$(VENV)/bin/ruff check --no-cache --fix-only --quiet $(PY_LINT_SRCS)
	$(VENV)/bin/ruff format --no-cache --quiet $(PY_LINT_SRCS)

# The call graph between csrc/*.c files, read from freshly compiled objects
# with nm, must have no cycle (calls go facade -> maintenance -> layers ->
# primitives); prints the layers. Python stdlib only.
.PHONY: check-callgraph
check-callgraph: ## fail if the call graph between csrc/*.c files has a cycle; print the layers
	$(PYTHON) tools/check_callgraph.py --cc $(CC)

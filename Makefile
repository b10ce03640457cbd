# timelog: build, test and packaging entry points (GNU make).
#
#   make test    set everything up on a fresh machine, then run every check:
#                lint, Criterion C tests (plain, ASan+UBSan, TL_DEBUG), TSan
#                stress, fuzzing, valgrind, pytest, the memory-safety tests
#                against an ASan-built extension, the packages
#   make demo    set everything up, then run the demo on built-in data
#   make bench   set everything up, then run the benchmarks (never part of test)
#   make help    every target, one line each
#
# This file is the table of contents; the targets live in mk/*.mk, one file
# per concern, and installing what they need (apt-get for Criterion,
# clang-format, valgrind, clang, mingw-w64/Wine; the venv) in
# tools/provision.sh. Everything Python lives in .venv; nothing is installed
# into the system Python. System packages are installed only when missing.

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

# Wildcards, so a file added to csrc/ or timelog/ is built without editing this.
ENGINE_SRCS  := $(sort $(wildcard csrc/*.c))
ENGINE_HDRS  := $(sort $(wildcard csrc/*.h))
# The C test-support kit (tests/c/support/: the one test allocator and the
# one reference model) is compiled into every C test program: added to each
# program's source list, once (it is outside the tests/c/*.c glob).
TSUPPORT_SRCS := $(sort $(wildcard tests/c/support/*.c))
TSUPPORT_HDRS := $(sort $(wildcard tests/c/support/*.h))
CTEST_SRCS   := $(sort $(wildcard tests/c/*.c)) $(TSUPPORT_SRCS)
BINDING_SRCS := $(sort $(wildcard timelog/*.pyx timelog/*.pxd timelog/*.pxi timelog/*.py timelog/*.h))

# ------------------------------------------------------------------ stamps

VENV_STAMP  := $(VENV)/.deps-stamp
BUILD_STAMP := build/.inplace-stamp
CBUILD      := tests/c/build

# ------------------------------------------------------------------ entry points

.PHONY: test demo help clean distclean FORCE

# The README's promise: on a fresh machine this does all set-up and runs every
# check. Order matters (system deps, venv, lint, extension, C tests, Python
# tests), and each step also names its own prerequisites so `make -j` stays
# correct.
test: criterion venv lint check-callgraph build ctest ctest-debug ctest-tsan fuzz-ci leakcheck pytest test-asan package-check ## set up everything, run all checks and C and Python tests, check the packages

demo: venv build ## set up everything, run the demo on built-in data
	$(VPY) -m timelog

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

FORCE:

# ------------------------------------------------------------------ the targets, by concern

include mk/lint.mk      # lint, format: clang-format, ruff, cython-lint
include mk/python.mk    # venv, build (the extension in place), pytest, test-asan
include mk/ctest.mk     # Criterion: ctest, ctest-plain, ctest-asan, ctest-debug, ctest-clang; ctest-tsan
include mk/fuzz.mk      # fuzz, fuzz-ci (libFuzzer), leakcheck (valgrind)
include mk/package.mk   # sdist, wheel, package-check
include mk/matrix.mk    # test-matrix: pytest on every CPython >= 3.10 under pyenv
include mk/windows.mk   # test-windows: mingw-w64 build under Wine
include mk/bench.mk     # bench, bench-compare, bench-report, soak, stress

# ------------------------------------------------------------------ cleaning

clean: ## remove build products (keeps .venv)
	rm -rf build dist *.egg-info $(CBUILD)
	rm -f timelog/_core.c timelog/*.html timelog/_core*.so timelog/_core*.pyd
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 -r rm -rf
	rm -rf .pytest_cache .hypothesis .benchmarks

distclean: clean ## clean, and remove .venv too
	rm -rf $(VENV)

# mk/matrix.mk: the pytest suite on every CPython >= 3.10 under the pyenv root.
#
# Included by the Makefile.


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


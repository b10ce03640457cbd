# mk/package.mk: sdist, wheel, and the installed-package smoke test.
#
# Included by the Makefile.

# ------------------------------------------------------------------ packaging

.PHONY: sdist wheel

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


# mk/windows.mk: the engine and its C tests cross-built for Windows and run under Wine.
#
# Included by the Makefile.

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
              -Itests/c/win -Icsrc -Itests/c -Itests/c/support
WIN_RUNNER_SRCS := $(ENGINE_SRCS) $(CTEST_SRCS) tests/c/win/runner.c
WIN_STRESS_SRCS := $(ENGINE_SRCS) tests/c/stress_core.c tests/c/tsan/stress_main.c $(TSUPPORT_SRCS)
WIN_SECONDS ?= 2

.PHONY: win-deps test-windows
win-deps: ## install mingw-w64 and Wine with apt-get if missing
	@tools/provision.sh windows $(WIN_CC) $(WINE)

$(WBUILD)/runner.exe: $(WIN_RUNNER_SRCS) $(ENGINE_HDRS) $(wildcard tests/c/*.h) $(TSUPPORT_HDRS) \
                      tests/c/win/criterion/criterion.h | win-deps
	mkdir -p $(@D)
	$(WIN_CC) $(WIN_CFLAGS) -o $@ $(WIN_RUNNER_SRCS)

$(WBUILD)/stress.exe: $(WIN_STRESS_SRCS) $(ENGINE_HDRS) tests/c/stress_core.h $(TSUPPORT_HDRS) | win-deps
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


#!/usr/bin/env bash
# Installs what the make targets need, when (and only when) it is missing.
# The Makefile (mk/*.mk) calls one subcommand per need; each is idempotent and
# touches nothing on a machine that already has the tool, so a developer with
# everything installed never needs root.
#
#   tools/provision.sh criterion            libcriterion-dev (C tests)
#   tools/provision.sh clang-format         clang-format (make lint / format)
#   tools/provision.sh valgrind             valgrind (make leakcheck)
#   tools/provision.sh fuzz CLANG           clang + its libFuzzer runtime (make fuzz)
#   tools/provision.sh windows CC WINE      mingw-w64 + Wine (make test-windows)
#   tools/provision.sh venv PYTHON VENV     VENV with requirements-dev.txt
#   tools/provision.sh headers VENV         Python.h for VENV's interpreter
#
# System packages come from Debian with apt-get, as root directly (CI) or
# through sudo; without either the script says what to install by hand.
# Everything Python goes into the venv; nothing into the system Python.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export DEBIAN_FRONTEND=noninteractive

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "error: need root (or sudo) to run: $*" >&2
        exit 1
    fi
}

# One `apt-get update` per run of this script, before the first install.
updated=
apt_install() {
    if [[ -z $updated ]]; then
        as_root apt-get update
        updated=1
    fi
    as_root apt-get install -y --no-install-recommends "$@"
}

# Criterion comes from Debian's libcriterion-dev; its header tells.
need_criterion() {
    [[ -f /usr/include/criterion/criterion.h ]] && return 0
    echo "Criterion not found; installing libcriterion-dev with apt-get" >&2
    apt_install libcriterion-dev
}

# Debian 12's clang-format is version 14, the one .clang-format is written for.
need_clang_format() {
    command -v "${CLANG_FORMAT:-clang-format}" >/dev/null 2>&1 && return 0
    echo "clang-format not found; installing it with apt-get" >&2
    apt_install clang-format
}

need_valgrind() {
    command -v valgrind >/dev/null 2>&1 && return 0
    echo "valgrind not found; installing it with apt-get" >&2
    apt_install valgrind
}

# libFuzzer needs Debian's clang plus libclang-rt-N-dev, which clang only
# recommends: probe by linking a trivial fuzz target.
need_fuzz() {
    local clang=${1:-clang}
    probe() {
        local d rc=0
        d=$(mktemp -d)
        printf 'int LLVMFuzzerTestOneInput(const unsigned char *p, unsigned long n) { (void)p; (void)n; return 0; }\n' > "$d/p.c"
        "$clang" -fsanitize=fuzzer,address,undefined "$d/p.c" -o "$d/p" >/dev/null 2>&1 || rc=1
        rm -rf "$d"
        return $rc
    }
    probe && return 0
    echo "$clang cannot build a libFuzzer target; installing clang with apt-get" >&2
    apt_install clang
    if ! probe; then
        apt_install "libclang-rt-$("$clang" -dumpversion | cut -d. -f1)-dev"
    fi
    probe || { echo "error: $clang still cannot link -fsanitize=fuzzer" >&2; exit 1; }
}

need_windows() {
    local cc=${1:?windows CC WINE} wine=${2:?windows CC WINE}
    command -v "$cc" >/dev/null 2>&1 && [[ -x $wine ]] && return 0
    echo "mingw-w64 or Wine not found; installing gcc-mingw-w64-x86-64 and wine64 with apt-get" >&2
    apt_install gcc-mingw-w64-x86-64 wine64
}

# On a bare Debian the system Python lacks ensurepip (package pythonX.Y-venv);
# install it and retry. Requirements are (re)installed on every call: the
# Makefile calls this only when requirements-dev.txt changed or the venv is new.
need_venv() {
    local python=${1:?venv PYTHON VENV} venv=${2:?venv PYTHON VENV}
    if [[ ! -x $venv/bin/python ]]; then
        echo "== creating $venv with $python"
        rm -rf "$venv"
        if ! "$python" -m venv "$venv"; then
            echo "python venv module unusable; installing it with apt-get" >&2
            rm -rf "$venv"
            local pkg
            pkg=$("$python" -c 'import sys; print("python3.%d-venv" % sys.version_info[1])')
            apt_install "$pkg" || apt_install python3-venv
            "$python" -m venv "$venv"
        fi
    fi
    echo "== installing requirements-dev.txt into $venv"
    "$venv/bin/pip" install -q -U pip
    "$venv/bin/pip" install -q -U -r requirements-dev.txt
}

# Compiling the extension needs Python.h, which a bare Debian Python lacks
# (package pythonX.Y-dev). Checked against the venv's interpreter.
need_headers() {
    local vpy=${1:?headers VENV}/bin/python inc pkg
    inc=$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [[ -f $inc/Python.h ]] && return 0
    echo "Python.h missing in $inc; installing Python headers with apt-get" >&2
    pkg=$("$vpy" -c 'import sys; print("python3.%d-dev" % sys.version_info[1])')
    apt_install "$pkg" || apt_install python3-dev
}

cmd=${1:-}
shift || true
case $cmd in
    criterion) need_criterion ;;
    clang-format) need_clang_format ;;
    valgrind) need_valgrind ;;
    fuzz) need_fuzz "$@" ;;
    windows) need_windows "$@" ;;
    venv) need_venv "$@" ;;
    headers) need_headers "$@" ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
esac

"""Build script for the one compiled extension, ``timelog._core``.

Project metadata lives in pyproject.toml; this file exists only because the
extension needs logic that static configuration cannot express: the list of
engine sources, NumPy's include directory and per-compiler flags.

The extension is the Cython binding (timelog/_core.pyx) linked with every C
file of the engine (csrc/*.c) into one shared object, so the engine has no
separate library to find at import time.
"""

import os
import sys
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.modified import newer_group

HERE = os.path.dirname(os.path.abspath(__file__))

# Paths must stay relative to the project root (setuptools refuses absolute
# source paths in sdists); glob's root_dir keeps them so whatever the cwd is.
# sorted(): a stable link order gives reproducible builds.
ENGINE_SOURCES = sorted(glob("csrc/*.c", root_dir=HERE))
ENGINE_HEADERS = sorted(glob("csrc/*.h", root_dir=HERE))
# The binding's include files (timelog/_core.pyx is a list of `include`s of
# these), its C headers and the pure-Python modules it imports.
BINDING_DEPENDS = sorted(
    glob("timelog/*.pxi", root_dir=HERE)
    + glob("timelog/*.pxd", root_dir=HERE)
    + glob("timelog/*.h", root_dir=HERE)
)

# GCC and clang (setuptools' "unix" compiler type, and "mingw32"): the engine
# is C17, and -O2 is pinned because some Pythons' default CFLAGS carry -O0 or
# -O3.
UNIX_COMPILE_ARGS = ["-std=c17", "-O2"]
# The engine's own sources compile warning-free, as in the C tests' builds
# (make ctest): a warning in csrc/ fails the extension's build too. Not for
# the Cython-generated timelog/_core.c, whose warnings are Cython's to fix.
# Only gcc and clang get these; TIMELOG_WERROR=0 in the environment drops
# -Werror, for a compiler newer than the project has been built with.
ENGINE_WARNING_ARGS = ["-Wall", "-Wextra"]
if os.environ.get("TIMELOG_WERROR", "1") != "0":
    ENGINE_WARNING_ARGS.append("-Werror")
# MSVC ("msvc"): C17 with the C11 atomics of <stdatomic.h>, which VS 2022
# 17.5+ ships behind /experimental:c11atomics (older toolsets cannot build
# the engine). The engine's threads are Win32 (csrc/tl_sync_win32.c).
# Not compiled on this project's machines: make test-windows builds the
# engine with mingw-w64 instead; the wheel workflow's Windows leg uses this.
MSVC_COMPILE_ARGS = ["/std:c17", "/experimental:c11atomics", "/O2"]


def _is_engine_source(path):
    return os.path.normpath(path).startswith("csrc" + os.sep)


class BuildExt(build_ext):
    """Add flags that depend on the compiler, known only once it is chosen."""

    def build_extensions(self):
        kind = self.compiler.compiler_type
        extra = {
            "unix": UNIX_COMPILE_ARGS,
            "mingw32": UNIX_COMPILE_ARGS,
            "msvc": MSVC_COMPILE_ARGS,
        }.get(kind, [])
        for ext in self.extensions:
            ext.extra_compile_args = extra + list(ext.extra_compile_args)
        super().build_extensions()

    def build_extension(self, ext):
        # With gcc or clang, the engine's files are compiled first, with the
        # warning flags added, into objects the extension links like its own
        # (the public CCompiler.compile, the call build_ext itself makes);
        # the rest (the Cython output) is compiled by build_ext as usual.
        # Extension.depends lists the engine's sources too, so editing one
        # still rebuilds the extension.
        engine = [s for s in ext.sources if _is_engine_source(s)]
        stale = self.force or newer_group(
            ext.sources + ext.depends, self.get_ext_fullpath(ext.name), "newer"
        )
        if engine and stale and self.compiler.compiler_type in ("unix", "mingw32"):
            objects = self.compiler.compile(
                engine,
                output_dir=self.build_temp,
                macros=ext.define_macros + [(name,) for name in ext.undef_macros],
                include_dirs=ext.include_dirs,
                debug=self.debug,
                extra_postargs=list(ext.extra_compile_args) + ENGINE_WARNING_ARGS,
                depends=ext.depends,
            )
            ext.sources = [s for s in ext.sources if not _is_engine_source(s)]
            ext.extra_objects = objects + list(ext.extra_objects)
        super().build_extension(ext)


extension = Extension(
    "timelog._core",
    sources=["timelog/_core.pyx", *ENGINE_SOURCES],
    # Listed so that editing a header or an include file (or, with gcc and
    # clang, an engine source: see BuildExt.build_extension) rebuilds it.
    depends=ENGINE_SOURCES + ENGINE_HEADERS + BINDING_DEPENDS,
    include_dirs=["csrc", "timelog", numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    # The engine's maintenance thread is a pthread on POSIX; on Windows it is
    # a Win32 thread from the C runtime (_beginthreadex): nothing to link.
    libraries=["pthread"] if os.name == "posix" and sys.platform != "win32" else [],
)

setup(
    # Every Cython directive is in timelog/_core.pyx's "# cython:" header.
    ext_modules=cythonize([extension]),
    cmdclass={"build_ext": BuildExt},
)

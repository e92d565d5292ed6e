"""Build the Cython kernels, with OpenMP where the compiler supports it.

Environment switches:
  NDPOOL_DEBUG=1     bounds checks, wraparound and initialisation checks on
                     (the debug build the test suite also runs under).
  NDPOOL_NO_OPENMP=1 build serial kernels on purpose (the build still warns).
  NDPOOL_NATIVE=1    add -march=native (never in a distributed build).
  NDPOOL_SANITIZE=1  AddressSanitizer + UBSan (-O1 -g); build it out of tree, and
                     run with LD_PRELOAD=$(gcc -print-file-name=libasan.so).
"""
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

KERNELS = ["window", "smooth", "gather", "unpool", "filters", "roi", "positions", "variates",
           "_openmp_info"]


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def openmp_flags():
    """Compile and link a small OpenMP program; return the flags that made it work."""
    if _flag("NDPOOL_NO_OPENMP"):
        return None
    cc = sysconfig.get_config_var("CC") or "cc"
    src = textwrap.dedent("""
        #include <omp.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            return n > 0 ? 0 : 1;
        }
    """)
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        for flags in (["-fopenmp"], ["-Xpreprocessor", "-fopenmp", "-lomp"]):
            cmd = cc.split() + [path, "-o", os.path.join(tmp, "probe")] + flags
            ok = subprocess.run(cmd, capture_output=True).returncode == 0
            if ok and subprocess.run([os.path.join(tmp, "probe")]).returncode == 0:
                return flags
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


def loud_warning(msg):
    bar = "!" * 78
    print(f"\n{bar}\n{msg}\n{bar}\n", file=sys.stderr)
    warnings.warn(msg)


omp = openmp_flags()
if omp is None:
    loud_warning("ndpool: OpenMP is NOT available; building SERIAL kernels. "
                 "Every call will use one core. Install a compiler with OpenMP "
                 "(gcc, or clang with libomp) and rebuild.")

debug = _flag("NDPOOL_DEBUG")
sanitize = ["-fsanitize=address,undefined,float-cast-overflow",
            "-fno-omit-frame-pointer"] if _flag("NDPOOL_SANITIZE") else []
compile_args = ["-O3"] if not (debug or sanitize) else ["-O1", "-g"]
compile_args += sanitize
if _flag("NDPOOL_NATIVE"):
    compile_args.append("-march=native")
extra_compile = compile_args + (omp or [])
extra_link = [f for f in (omp or []) if f != "-Xpreprocessor"] + sanitize

extensions = [
    Extension(
        f"ndpool._kernels.{name}",
        [f"src/ndpool/_kernels/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION"),
                       ("NDPOOL_DEBUG_BUILD", "1" if debug else "0"),
                       ("NDPOOL_NATIVE_BUILD", "1" if _flag("NDPOOL_NATIVE") else "0")],
        extra_compile_args=extra_compile,
        extra_link_args=extra_link,
    )
    for name in KERNELS
]

# Regenerate every C file when the build mode changes (a debug and a release
# build must not share stale C files); otherwise Cython's timestamps decide.
mode = f"debug={debug} openmp={omp is not None} args={extra_compile}"
stamp = os.path.join("build", "ndpool-build-mode")
force = not os.path.exists(stamp) or open(stamp).read() != mode
os.makedirs("build", exist_ok=True)
with open(stamp, "w") as f:
    f.write(mode)

directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": not debug,
    "nonecheck": debug,
}

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        force=force,
    ),
)

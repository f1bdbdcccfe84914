"""setuptools with one extra build step: the C library from the project's own Makefile.

`pip install ./python` (from the repository root) runs `make lib` in the repository and copies
build/lib/libtessera.so into the package (tessera/_lib/). Where a Swift toolchain is found (and
TESSERA_NO_SWIFT is unset) it also runs `swift build -c release --product TesseraCABI` and bundles
libTesseraCABI.so, the Swift clustering library behind include/tessera/cluster.h; without it the
package installs and everything but tessera.cluster works. Nothing is downloaded.
Environment: TESSERA_SOURCE_DIR (the repository; default: the parent of this folder), MAKE, SWIFT.
"""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("TESSERA_SOURCE_DIR", HERE.parent)).resolve()


def _run(cmd, **kw):
    print("tessera build:", " ".join(map(str, cmd)), flush=True)
    subprocess.run(cmd, check=True, **kw)


class BuildWithLibtessera(build_py):
    def run(self):
        super().run()
        if not (ROOT / "Makefile").exists() or not (ROOT / "include" / "tessera.h").exists():
            raise RuntimeError(f"the Tessera sources are not at {ROOT}; set TESSERA_SOURCE_DIR")
        out = Path(self.build_lib) / "tessera" / "_lib"
        out.mkdir(parents=True, exist_ok=True)
        _run([os.environ.get("MAKE", "make"), "-C", str(ROOT), "lib"])
        real = sorted((ROOT / "build" / "lib").glob("libtessera.so.*.*.*"))
        src = real[-1] if real else ROOT / "build" / "lib" / "libtessera.so"
        shutil.copyfile(src, out / "libtessera.so")
        swift = os.environ.get("SWIFT") or shutil.which("swift")
        if swift and not os.environ.get("TESSERA_NO_SWIFT"):
            _run([swift, "build", "-c", "release", "--product", "TesseraCABI"], cwd=ROOT)
            bin_path = subprocess.run([swift, "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                                      capture_output=True, text=True).stdout.strip()
            shutil.copyfile(Path(bin_path) / "libTesseraCABI.so", out / "libTesseraCABI.so")
        else:
            print("tessera build: no Swift toolchain (or TESSERA_NO_SWIFT): tessera.cluster will be unavailable")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):  # the wheel carries native libraries: platform tag, not py3-none-any
        return True


setup(cmdclass={"build_py": BuildWithLibtessera}, distclass=BinaryDistribution)

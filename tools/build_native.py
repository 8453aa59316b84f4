"""Build the compiled model with mypyc into build/native/<python tag>/ (see simulator/native.py).

    python tools/build_native.py          # what `make native` runs

Rebuilds only when a source changed (the manifest records their sha256). The C compiler gets
`-ffp-contract=off` (no fused multiply-add). The new build is assembled in a temporary folder and
moved into place whole, so an interrupted build never leaves a half-built one to be loaded.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import native  # noqa: E402


def main() -> int:
    build = native.build_dir()
    if native.check(build) is None:
        print(f"compiled model up to date in {build.relative_to(ROOT)}")
        return 0
    from mypy.version import __version__ as mypyc_version
    from mypyc.build import mypycify
    from setuptools import setup

    hashes = native.source_hashes()  # the sources as they are when compiling starts
    (ROOT / "build").mkdir(exist_ok=True)  # a fresh clone has none; `make native` makes it too
    work = Path(tempfile.mkdtemp(prefix="native-", dir=ROOT / "build"))
    try:
        paths = [str(native.MODEL / f"{name}.py") for name in native.MODULES]
        os.chdir(ROOT)  # mypyc names modules from paths relative to the project
        paths = [os.path.relpath(p, ROOT) for p in paths]
        extensions = mypycify([*paths, "--ignore-missing-imports", "--follow-imports=silent"],
                              opt_level="3", group_name=native.GROUP, target_dir=str(work / "c"))
        for extension in extensions:
            extension.extra_compile_args = [*(extension.extra_compile_args or []), *native.FLAGS]
        out = work / "out"
        os.chdir(work)  # so setuptools reads no project configuration
        setup(name="fundsim-native", ext_modules=extensions,
              script_args=["--quiet", "build_ext", "--build-lib", str(out),
                           "--build-temp", str(work / "tmp")])
        (out / "manifest.json").write_text(json.dumps({
            "python": sys.version, "mypyc": mypyc_version, "flags": list(native.FLAGS),
            "sources": hashes}, indent=1))
        if build.exists():
            shutil.rmtree(build)
        build.parent.mkdir(parents=True, exist_ok=True)
        os.replace(out, build)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    problem = native.check(build)
    if problem:  # a source changed while compiling
        print(f"built, but {problem}", file=sys.stderr)
        return 1
    print(f"compiled model built in {build.relative_to(ROOT)} (mypyc {mypyc_version}, "
          f"{' '.join(native.FLAGS)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

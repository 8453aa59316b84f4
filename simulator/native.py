"""The compiled model: the hot modules of `simulator/model/` built with mypyc (`make native`, run by
`make demo`, `make test` and `make bench`), used when a build matches the sources, with the
plain-Python modules as the automatic fallback.

Why mypyc: the model is ordinary typed Python over SimPy, and mypyc compiles exactly that source
(native classes with C-double fields, no getattr, direct calls) with no second language to keep in
step; Cython would need a typed twin of every module. The same files run interpreted when nothing
is built, and give the same bits (tests/test_native.py, tests/test_reference_outputs.py).

Where: `build/native/<python tag>/` beside the package (never inside it, so a stale build can never
shadow a source file by accident), holding the extension modules and `manifest.json` with the
sha256 of every source compiled. At import the sources are hashed again; a build that does not
match them is stale and not used (`fundsim --version` says so). `FUNDSIM_MODEL=python` forces the
plain model; `FUNDSIM_MODEL=native` makes a missing or stale build an error.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
MODEL = PACKAGE / "model"
MODULES = ("clock", "records", "funding", "ledger", "payments", "portfolio", "workforce",
           "temporary", "operations", "run", "counts")
"""The modules compiled: the event loop and everything it calls, and the certified Poisson counts
(`counts.py`, whose loop only pays compiled; `compiled.py` lays a scenario out
once and `chunk.py` works in numpy, so neither gains from compiling)."""

GROUP = "simulator.model"  # mypyc's group: its shared library is `simulator/model__mypyc`
FLAGS = ("-ffp-contract=off",)
"""No fused multiply-add: a*b + c must round twice, as the interpreter rounds it, or the compiled
model would give other bits on a machine whose compiler contracts to FMA."""
ENVIRONMENT = "FUNDSIM_MODEL"


def build_dir() -> Path:
    """Where this Python's build lives."""
    return ROOT / "build" / "native" / sys.implementation.cache_tag


def source_hashes(model: Path = MODEL) -> dict[str, str]:
    """sha256 of each compiled module's source."""
    return {name: hashlib.sha256((model / f"{name}.py").read_bytes()).hexdigest()
            for name in MODULES}


@dataclass(frozen=True)
class NativeStatus:
    """Whether the compiled model is in use, and if not, why."""

    used: bool
    reason: str

    def describe(self) -> str:
        if self.used:
            return f"compiled with mypyc ({self.reason})"
        return f"plain Python ({self.reason})"


def check(build: Path, model: Path = MODEL) -> str | None:
    """Why the build in `build` cannot be used for the sources in `model`, or None if it can."""
    manifest = build / "manifest.json"
    if not manifest.exists():
        return "no compiled build: run `make native`"
    try:
        built = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        return f"unreadable build manifest {manifest}: {exc}"
    if built.get("python") != sys.version:
        return f"built for Python {built.get('python')!r}, running {sys.version!r}: run `make native`"
    now = source_hashes(model)
    changed = [f"{name}.py" for name in MODULES if built.get("sources", {}).get(name) != now[name]]
    if changed:
        return f"stale: {', '.join(changed)} changed since the build: run `make native`"
    return None


_STATUS = NativeStatus(False, "not activated")


def activate(model_package: object) -> NativeStatus:
    """Put the compiled modules first on the model package's path, if a build matches the
    sources; called by `simulator/model/__init__.py` before it imports any of them."""
    global _STATUS
    choice = os.environ.get(ENVIRONMENT, "").strip().lower()
    if choice == "python":
        _STATUS = NativeStatus(False, f"{ENVIRONMENT}=python")
        return _STATUS
    build = build_dir()
    problem = check(build)
    if problem is None:
        package_path = model_package.__path__  # type: ignore[attr-defined]
        parent = sys.modules["simulator"].__path__
        package_path.insert(0, str(build / "simulator" / "model"))
        parent.append(str(build / "simulator"))
        try:
            for name in MODULES:
                module = importlib.import_module(f"{GROUP}.{name}")
                if not str(module.__file__).startswith(str(build)):
                    raise ImportError(f"{module.__name__} was imported from {module.__file__}")
        except ImportError as exc:
            package_path.remove(str(build / "simulator" / "model"))
            parent.remove(str(build / "simulator"))
            for name in [*MODULES, "model__mypyc"]:
                sys.modules.pop(f"{GROUP}.{name}", None)
            sys.modules.pop("simulator.model__mypyc", None)
            problem = f"the build in {build} does not load ({exc})"
    if problem is not None:
        if choice == "native":
            raise ImportError(f"{ENVIRONMENT}=native but the compiled model cannot be used: {problem}")
        _STATUS = NativeStatus(False, problem)
    else:
        _STATUS = NativeStatus(True, str(build.relative_to(ROOT)))
    return _STATUS


def status() -> NativeStatus:
    """The model in use in this process (the model package is imported first)."""
    importlib.import_module(GROUP)
    return _STATUS

"""How much of torchvision's public surface rustdl.vision has: a quick sweep, not a test.

    /work/torchenv/bin/python tools/differential/vision_surface.py [--missing]

For each torchvision module below it lists the public names (``__all__`` where the
module defines one, else the names whose object comes from torchvision itself:
classes, functions, enums — not re-exported ``torch``/``typing`` helpers or
submodules), then asks a plain ``python3`` with rustdl on its path (rustdl.vision is
not importable next to torch here: a different interpreter) which of them exist
under the same path in ``rustdl.vision``. Prints the coverage per module and in
total; ``--missing`` lists the absent names. Existence only: values are what the
recorded tests (tests/test_vision_*.py) compare.
"""

import importlib
import inspect
import json
import os
import subprocess
import sys
import types

MODULES = [
    "models",
    "transforms",
    "transforms.functional",
    "transforms.v2",
    "transforms.v2.functional",
    "datasets",
    "utils",
    "io",
    "ops",
]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def _from_torchvision(obj):
    if isinstance(obj, types.ModuleType):
        return False
    module = getattr(obj, "__module__", None) or ""
    if not module and not inspect.isclass(type(obj)):
        return False
    if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return module.startswith("torchvision")
    # enum members exported at module level (``InterpolationMode`` is a class) and instances
    return module.startswith("torchvision") or type(obj).__module__.startswith("torchvision")


def torchvision_names():
    out = {}
    for name in MODULES:
        mod = importlib.import_module(f"torchvision.{name}")
        declared = getattr(mod, "__all__", None)
        if declared:
            names = [n for n in declared if not n.startswith("_")]
        else:
            names = [n for n in dir(mod) if not n.startswith("_") and _from_torchvision(getattr(mod, n))]
        out[name] = sorted(set(names))
    return out


CHECK = r"""
import importlib, json, sys
wanted = json.loads(sys.stdin.read())
have = {}
for mod_name, names in wanted.items():
    try:
        mod = importlib.import_module("rustdl.vision." + mod_name)
    except ImportError:
        have[mod_name] = []
        continue
    have[mod_name] = [n for n in names if hasattr(mod, n)]
print(json.dumps(have))
"""


def rustdl_names(wanted):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"), RUST_BACKTRACE="0")
    res = subprocess.run(
        ["python3", "-c", CHECK], input=json.dumps(wanted), capture_output=True, text=True, env=env, check=True
    )
    return json.loads(res.stdout)


def main():
    show_missing = "--missing" in sys.argv
    wanted = torchvision_names()
    have = rustdl_names(wanted)
    total = found = 0
    for name in MODULES:
        names, present = wanted[name], set(have.get(name, []))
        total += len(names)
        found += len(present)
        pct = 100.0 * len(present) / max(len(names), 1)
        print(f"torchvision.{name:<26} {len(present):4d} / {len(names):4d}  {pct:5.1f}%")
        if show_missing:
            missing = [n for n in names if n not in present]
            if missing:
                print("    missing: " + ", ".join(missing))
    print(f"{'total':<38} {found:4d} / {total:4d}  {100.0 * found / max(total, 1):5.1f}%")


if __name__ == "__main__":
    main()

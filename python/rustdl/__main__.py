"""``python -m rustdl SCRIPT [ARGS...]``: run an unchanged PyTorch program on rustdl.

``import torch`` (and every ``torch.*``, ``torchvision``, ``torchvision.*``)
in the program and in everything it imports gives rustdl's modules (see
:mod:`rustdl._import_hook`); the script then runs as ``__main__`` exactly as
``python SCRIPT ARGS...`` would run it: same ``sys.argv``, the script's folder
first on ``sys.path``, its exit status, its tracebacks.
``python -m rustdl -m MODULE [ARGS...]`` runs a module like ``python -m``.
"""

import importlib.util
import os
import runpy
import sys

from ._import_hook import _rustdl_name, install_torch_alias

USAGE = """\
usage: python -m rustdl SCRIPT [ARGS...]
       python -m rustdl -m MODULE [ARGS...]

Run a PyTorch program unchanged on rustdl: `import torch` gives rustdl,
`torch.X` gives rustdl.X, `torchvision` gives rustdl.vision. A torch module
rustdl does not have raises ModuleNotFoundError naming it.
"""

_PROG = "python -m rustdl"


def _usage_error(message):
    print(f"{_PROG}: {message}\n\n{USAGE}", end="", file=sys.stderr)
    return 2


def _user_frames(tb):
    """The traceback from the user's code on: drop this runner's and runpy's frames."""
    runner = (globals(), vars(runpy))
    while tb is not None and any(tb.tb_frame.f_globals is g for g in runner):
        tb = tb.tb_next
    return tb


def _run(run):
    """Call ``run()``; report an uncaught exception the way the interpreter does."""
    try:
        run()
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as e:  # noqa: BLE001 (reported as the interpreter reports it)
        tb = _user_frames(e.__traceback__)
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        return 1
    return 0


def _run_script(script, args):
    if not os.path.exists(script):
        print(f"{_PROG}: can't open file {os.path.abspath(script)!r}: [Errno 2] No such file or directory",
              file=sys.stderr)
        return 2
    sys.argv = [script, *args]
    # ``python -m`` put the working directory first; ``python SCRIPT`` puts the
    # script's folder there instead (and nothing, under -P / PYTHONSAFEPATH).
    if not getattr(sys.flags, "safe_path", False):
        folder = os.path.dirname(os.path.abspath(script))
        if sys.path and sys.path[0] in ("", os.getcwd()):
            sys.path[0] = folder
        else:
            sys.path.insert(0, folder)
    return _run(lambda: runpy.run_path(script, run_name="__main__"))


def _run_module(name, args):
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError as e:
        print(f"{sys.executable}: {e}", file=sys.stderr)
        return 1
    if found is None:
        print(f"{sys.executable}: No module named {name}", file=sys.stderr)
        return 1
    # `-m torch.x` runs rustdl.x: runpy needs the module's own loader to get its code
    real = _rustdl_name(name) or name
    if found.submodule_search_locations is not None and importlib.util.find_spec(real + ".__main__") is None:
        print(f"{sys.executable}: No module named {name}.__main__; '{name}' is a package "
              "and cannot be directly executed", file=sys.stderr)
        return 1
    sys.argv = [name, *args]  # run_module puts the module's file in argv[0], as python -m does
    return _run(lambda: runpy.run_module(real, run_name="__main__", alter_sys=True))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        return _usage_error("no script given")
    if argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    install_torch_alias()
    if argv[0] == "-m":
        if len(argv) < 2:
            return _usage_error("-m needs a module name")
        return _run_module(argv[1], argv[2:])
    if argv[0] == "--":
        argv = argv[1:]
        if not argv:
            return _usage_error("no script given")
    elif argv[0].startswith("-"):
        return _usage_error(f"unknown option {argv[0]!r}")
    return _run_script(argv[0], argv[1:])


if __name__ == "__main__":
    sys.exit(main())

"""Run the test_* functions of one portable test module, on MicroPython or CPython.

    <python> mprun.py <module> <tmp_base> [only_function]

Each function gets a fresh directory. Prints one line per test, "PASS name" or "FAIL name",
then the traceback indented; exit status 1 if anything failed.
"""

import os
import sys


def _mkdir(path):
    try:
        os.mkdir(path)
    except OSError:
        pass


def _print_exc(exc):
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)  # type: ignore[attr-defined]
    else:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)


def main(argv):
    name, base = argv[1], argv[2]
    only = argv[3] if len(argv) > 3 else None
    mod = __import__(name)
    failed = 0
    names = sorted(n for n in dir(mod) if n.startswith("test_"))
    for n in names:
        if only and n != only:
            continue
        tmp = base + "/" + n
        _mkdir(tmp)
        try:
            getattr(mod, n)(tmp)
            print("PASS " + n)
        except Exception as exc:  # noqa: BLE001 - a runner reports every failure
            failed += 1
            print("FAIL " + n)
            _print_exc(exc)
    print(f"DONE {len(names)} {failed}")
    sys.exit(1 if failed else 0)


main(sys.argv)

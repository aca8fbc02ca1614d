"""Where the CTG benchmarks find the real recordings: `--data DIR`, else $MCH_CTG_DATA, else
`<repo>/../shared/data/ctg`. A benchmark that cannot find what it needs exits 1 naming it."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ENV = "MCH_CTG_DATA"
DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ctg"
FHRMA_SUBDIR = Path("fhrma") / "FHRMAdataset"
CTU_SUBDIR = Path("ctu-uhb")


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", type=Path, default=None,
                   help=f"CTG data directory (default: ${ENV} or {DEFAULT})")
    return p


def data_root(arg: Path | None) -> Path:
    if arg is not None:
        return arg
    env = os.environ.get(ENV)
    return Path(env) if env else DEFAULT


def require(path: Path, what: str) -> Path:
    """`path` if it exists; otherwise a clear message and exit status 1 (the bench cannot measure)."""
    if not path.exists():
        print(f"cannot measure: {what} not found at {path} (use --data DIR or set {ENV})", file=sys.stderr)
        raise SystemExit(1)
    return path

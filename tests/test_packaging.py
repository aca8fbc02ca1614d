"""Each component's extra declares every third-party package its code imports, so a hub server
installs `.[hub]` and nothing of the kiosk's (Kivy, pyscard, pycups), and still runs."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# component package -> the extras a machine running it installs
COMPONENTS = {
    "mch_link": (),
    "central_hub": ("hub",),
    "mqtt_broker_config": ("broker",),
    "provisioning": ("provisioning",),
    "kiosk": ("kiosk",),
    "fetal_monitor_station": ("station",),
    "fleet_simulator": (),
    "acquirer_simulator": ("simulators",),
    "county_simulator": ("simulators",),
}
# the link package: every component may import it, and only it (ARCHITECTURE.md)
SHARED = {"mch_link"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[=<>!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imports(package: str) -> dict[str, Path]:
    """Top-level modules imported anywhere in the package (module -> one file importing it)."""
    found: dict[str, Path] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                found.setdefault(mod.split(".")[0], path)
    return found


@pytest.mark.parametrize("package", [p for p in COMPONENTS if (ROOT / p).is_dir()])
def test_a_component_imports_only_what_its_extra_installs(package: str) -> None:
    project = _project()
    allowed = _names(project["dependencies"])
    for extra in COMPONENTS[package]:
        allowed |= _names(project["optional-dependencies"][extra])
    dists = packages_distributions()
    own = set(COMPONENTS)
    problems = []
    for mod, path in _imports(package).items():
        if mod in sys.stdlib_module_names or mod == "__future__":
            continue
        if mod in own:
            if mod != package and mod not in SHARED:
                problems.append(f"{path.relative_to(ROOT)} imports another component, {mod}")
            continue
        wanted = {d.lower().replace("_", "-") for d in dists.get(mod, [])}
        if not wanted:
            problems.append(f"{path.relative_to(ROOT)} imports {mod}, which no installed distribution provides")
        elif not wanted & allowed:
            problems.append(f"{path.relative_to(ROOT)} imports {mod} ({', '.join(sorted(wanted))}), "
                            f"not in the extra(s) {COMPONENTS[package] or '(base)'}")
    assert not problems, "\n".join(problems)


def test_dev_installs_every_component_extra() -> None:
    dev = " ".join(_project()["optional-dependencies"]["dev"])
    for extras in COMPONENTS.values():
        for extra in extras:
            assert re.search(rf"mch-edge\[[^\]]*\b{extra}\b", dev), f"dev does not pull in .[{extra}]"

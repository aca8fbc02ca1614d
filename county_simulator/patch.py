"""FHIRPath Patch (FHIR R4 fhirpatch.html), the subset a platform needs to set an element without
replacing the resource: `add` at the resource's root, `delete` of a root element or of the items
of a list element chosen by one `where(<key>='<literal>')`. Anything else is refused, never guessed.
Per the spec, a delete that matches nothing is no error, so delete + add sets an element idempotently."""

from __future__ import annotations

import copy
import re
from typing import Any

from fhirclient.models.fhirelementfactory import FHIRElementFactory

_DELETE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\.(?P<name>[a-z][A-Za-z]*)"
                     r"(?:\.where\((?P<key>[a-z][A-Za-z]*)\s*=\s*'(?P<literal>[^'\\]*)'\))?$")


class PatchError(ValueError):
    """A patch this platform does not apply (the text says which operation and why)."""


def _is_list(rtype: str, name: str) -> bool:
    for _attr, jsname, _type, is_list, _of_many, _required in FHIRElementFactory.instantiate(
            rtype, None).elementProperties():
        if jsname == name:
            return bool(is_list)
    raise PatchError(f"{rtype} has no element {name!r}")


def _parts(op: Any, i: int) -> dict[str, Any]:
    if not isinstance(op, dict) or op.get("name") != "operation" or not isinstance(op.get("part"), list):
        raise PatchError(f"parameter[{i}]: not an operation")
    out: dict[str, Any] = {}
    for part in op["part"]:
        name = part.get("name") if isinstance(part, dict) else None
        values = [v for k, v in part.items() if k.startswith("value")] if isinstance(part, dict) else []
        if not isinstance(name, str) or len(values) != 1:
            raise PatchError(f"parameter[{i}]: a part without a name or one value")
        out[name] = values[0]
    return out


def apply(resource: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The patched copy of `resource` (which is not changed)."""
    if patch.get("resourceType") != "Parameters":
        raise PatchError("a FHIRPath Patch is a Parameters resource")
    rtype = str(resource["resourceType"])
    out = copy.deepcopy(resource)
    for i, op in enumerate(patch.get("parameter") or []):
        p = _parts(op, i)
        kind, path = p.get("type"), p.get("path")
        if kind == "add" and path == rtype and isinstance(p.get("name"), str) and "value" in p:
            name = p["name"]
            if name in ("resourceType", "id", "meta"):
                raise PatchError(f"parameter[{i}]: {name} is not patched")
            if _is_list(rtype, name):
                out.setdefault(name, []).append(p["value"])
            elif name in out:
                raise PatchError(f"parameter[{i}]: {rtype}.{name} already has a value (delete it first)")
            else:
                out[name] = p["value"]
        elif kind == "delete" and isinstance(path, str) and (m := _DELETE.match(path)) and m["type"] == rtype:
            name = m["name"]
            if m["key"] is None:
                out.pop(name, None)
            elif _is_list(rtype, name):
                kept = [x for x in out.get(name, []) if not (isinstance(x, dict) and x.get(m["key"]) == m["literal"])]
                if len(out.get(name, [])) - len(kept) > 1:
                    raise PatchError(f"parameter[{i}]: {path} matches more than one element")
                if kept:
                    out[name] = kept
                else:
                    out.pop(name, None)
            else:
                raise PatchError(f"parameter[{i}]: where() on {rtype}.{name}, which is not a list")
        else:
            raise PatchError(f"parameter[{i}]: operation {kind!r} at {path!r} is not supported")
    return out

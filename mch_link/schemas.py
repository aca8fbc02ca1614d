"""Record schemas, one JSON Schema file per kind and version, validated at both ends.

A schema id is ``<name>/<version>`` and lives in ``mch_link/schemas/<name>-<version>.json``.
Bodies must be JSON-compatible (maps, arrays, text, numbers, booleans, null).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from mch_link.errors import SchemaError

SCHEMA_ID_RE = re.compile(r"^([a-z][a-z0-9-]{0,30})/([1-9][0-9]{0,3})$")
# Schemas bound to one topic kind (mch_link.topics.Kind values): an alarm must not ride on the CTG
# topic (where nothing treats it as an alarm), nor a CTG batch on the alarm topic. Others go anywhere.
TOPIC_KINDS = {"alarm": frozenset({"alarm"}), "ctg": frozenset({"ctg"}), "bridge-ctg": frozenset({"ctg"}),
               "state": frozenset({"state"}), "fw-chunk": frozenset({"cmd"})}


def schema_file(schema_id: str) -> str:
    m = SCHEMA_ID_RE.fullmatch(schema_id)
    if not m:
        raise SchemaError(f"bad schema id {schema_id!r}: want <name>/<version>")
    return f"{m.group(1)}-{m.group(2)}.json"


@cache
def _validator(schema_id: str) -> Any:
    path = resources.files("mch_link") / "schemas" / schema_file(schema_id)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"unknown schema {schema_id!r}") from None
    return jsonschema_rs.validator_for(schema)


def allowed_on(schema_id: str, kind: str) -> bool:
    """Whether records of `schema_id` may travel on a topic of `kind` (see TOPIC_KINDS)."""
    kinds = TOPIC_KINDS.get(schema_id.partition("/")[0])
    return kinds is None or kind in kinds


def known(schema_id: str) -> bool:
    try:
        _validator(schema_id)
    except SchemaError:
        return False
    return True


def validate(schema_id: str, body: Any) -> None:
    """Raise SchemaError naming the first violation; return None when the body conforms."""
    validator = _validator(schema_id)
    try:
        validator.validate(body)
    except jsonschema_rs.ValidationError as exc:
        # Name where and which rule, never the value: bodies carry personal data and errors get logged.
        where = "/" + "/".join(str(p) for p in exc.instance_path)
        rule = "/".join(str(p) for p in exc.schema_path)
        raise SchemaError(f"{schema_id}: {where} violates {rule}") from None
    except (TypeError, ValueError, OverflowError) as exc:  # values JSON cannot hold (bytes, huge ints)
        raise SchemaError(f"{schema_id}: body is not JSON-compatible ({exc.__class__.__name__})") from None

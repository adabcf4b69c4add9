"""Structured output: turn a model's text into JSON and check it against a JSON Schema. Pure functions.

The validator covers the subset of JSON Schema that structured-output APIs accept (type, properties,
required, additionalProperties, items, enum, const, anyOf/oneOf, string/array/number bounds, local
$ref into $defs): enough to tell a model what was wrong, without a new dependency.
"""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def schema_dict(schema: Any) -> dict[str, Any] | None:
    """A JSON Schema dict from a dict or a pydantic model class."""
    if schema is None or isinstance(schema, dict):
        return schema
    if hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    raise TypeError(f"json_schema must be a dict or a pydantic model class, got {type(schema).__name__}")


def extract_json(text: str) -> Any:
    """Parse a reply as JSON, tolerating a ``` fence or prose around one object (weak models add both)."""
    s = text.strip()
    m = _FENCE.match(s)
    if m:
        s = m.group(1)
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        pass
    start, end = s.find("{"), s.rfind("}")
    if 0 <= start < end:
        return json.loads(s[start : end + 1])  # raises JSONDecodeError when it still is not JSON
    return json.loads(s)


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False  # bool is an int subclass in Python, not in JSON
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(name, (object,)))


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, path: str = "$") -> str | None:
    """None when `value` satisfies `schema`; else the first violation, naming where (e.g. `$.answer: ...`)."""
    root = root if root is not None else schema
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return None  # remote refs are not followed
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return validate(value, target, root, path)
    t = schema.get("type")
    if t is not None:
        names = t if isinstance(t, list) else [t]
        if not any(_is_type(value, n) for n in names):
            return f"{path}: expected {' or '.join(names)}, got {type(value).__name__}"
    if "const" in schema and value != schema["const"]:
        return f"{path}: must be {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{path}: must be one of {schema['enum']!r}"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            errs = [validate(value, sub, root, path) for sub in schema[key]]
            if all(errs):
                return f"{path}: matches none of {key}: {errs[0]}"
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                return f"{path}: missing required property {name!r}"
        for name, v in value.items():
            if name in props:
                err = validate(v, props[name], root, f"{path}.{name}")
                if err:
                    return err
            elif schema.get("additionalProperties") is False:
                return f"{path}: unexpected property {name!r}"
            elif isinstance(schema.get("additionalProperties"), dict):
                err = validate(v, schema["additionalProperties"], root, f"{path}.{name}")
                if err:
                    return err
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            return f"{path}: needs at least {schema['minItems']} items"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{path}: allows at most {schema['maxItems']} items"
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                err = validate(v, schema["items"], root, f"{path}[{i}]")
                if err:
                    return err
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            return f"{path}: shorter than {schema['minLength']} characters"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{path}: longer than {schema['maxLength']} characters"
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{path}: below the minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{path}: above the maximum {schema['maximum']}"
    return None


def parse_reply(text: str, schema: dict[str, Any], model_cls: Any = None) -> tuple[Any, str | None]:
    """(parsed, None) or (None, why it failed). With a pydantic class, parsed is an instance of it."""
    try:
        value = extract_json(text)
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg} at position {e.pos})"
    err = validate(value, schema)
    if err:
        return None, f"does not match the schema: {err}"
    if model_cls is not None:
        try:
            return model_cls.model_validate(value), None
        except Exception as e:  # pydantic's ValidationError; anything the model's validators raise
            return None, f"does not match the schema: {e}"
    return value, None


def reask_message(error: str, schema: dict[str, Any]) -> dict[str, str]:
    """The user turn that asks the model to fix its JSON (a new request with its own cache key)."""
    return {
        "role": "user",
        "content": f"Your reply {error}. Reply again with only one JSON value matching this JSON Schema, "
        f"and nothing else:\n{json.dumps(schema, ensure_ascii=False)}",
    }

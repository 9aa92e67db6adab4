"""Validate an API answer against docs/openapi.yaml (the published schema), as a generated client would."""

import re
from functools import cache
from pathlib import Path

import jsonschema
import yaml

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _operation(path: str, method: str) -> tuple[str, dict]:
    for template, item in spec()["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    raise AssertionError(f"no operation {method} {path} in the published schema")


def problems(response, path: str, method: str) -> list[str]:
    """What in the answer the published schema does not allow (status, content, body)."""
    template, operation = _operation(path, method)
    status = str(response.status_code)
    declared = operation["responses"]
    entry = declared.get(status) or declared.get(f"{status[0]}XX") or declared.get("default")
    if entry is None:
        return [f"{method} {template}: status {status} not declared (declared: {sorted(declared)})"]
    content = entry.get("content")
    if not content:
        return []
    media = response.get("Content-Type", "").split(";")[0]
    if media not in content:
        return [f"{method} {template} {status}: content type {media} not declared ({sorted(content)})"]
    schema = content[media]["schema"]
    if media != "application/json":
        return []
    validator = jsonschema.Draft202012Validator({"components": spec()["components"], **schema})
    return [f"{method} {template} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
            for e in validator.iter_errors(response.json())]

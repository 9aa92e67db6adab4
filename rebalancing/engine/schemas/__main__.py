"""Regenerate the parameters' part of ``request.schema.json`` from the dataclasses.

``python -m rebalancing.engine.schemas [--check]``: the ``parameters`` and ``instruction``
definitions are derived from ``rebalancing.engine.parameters`` (one description of every setting);
the rest of the request schema is written by hand.  ``--check`` exits 1 when the file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rebalancing.engine.parameters import parameters_json_schema

REQUEST_SCHEMA_PATH = Path(__file__).with_name("request.schema.json")


def derived_request_schema() -> dict:
    """The committed request schema with its parameters' definitions derived afresh."""
    schema = json.loads(REQUEST_SCHEMA_PATH.read_text("utf-8"))
    schema["$defs"].update(parameters_json_schema())
    return schema


def main(argv: list[str]) -> int:
    schema = derived_request_schema()
    if json.loads(REQUEST_SCHEMA_PATH.read_text("utf-8")) == schema:
        print(f"{REQUEST_SCHEMA_PATH} is up to date")
        return 0
    if "--check" in argv:
        print(f"{REQUEST_SCHEMA_PATH} is stale: run python -m rebalancing.engine.schemas", file=sys.stderr)
        return 1
    REQUEST_SCHEMA_PATH.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {REQUEST_SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

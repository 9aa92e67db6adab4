"""Command line: ``python -m rebalancing.engine solve request.json [--explain]``.

Prints the result as JSON (or, with ``--explain``, as a table).  Errors print
``{"error": {"code", "message", "detail"}}`` on stderr and exit with status 2 (bad request),
3 (infeasible parameters) or 4 (solver failure).
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import EngineError, InfeasibleParameters, InvalidRequest
from .explain import explain
from .rebalancer import rebalance
from .serialization import request_from_json, result_to_json

__all__ = ["main"]

EXIT_CODES = {InvalidRequest: 2, InfeasibleParameters: 3}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the CLI; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m rebalancing.engine", description="Rebalancing engine")
    commands = parser.add_subparsers(dest="command", required=True)
    solve = commands.add_parser("solve", help="rebalance one account described by a JSON request")
    solve.add_argument("request", help="path to the request JSON ('-' for standard input)")
    solve.add_argument("--explain", action="store_true", help="print a human-readable table instead of JSON")
    args = parser.parse_args(argv)
    try:
        if args.request == "-":
            data = sys.stdin.buffer.read()
        else:
            try:
                with open(args.request, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise InvalidRequest(f"cannot read {args.request}: {exc.strerror}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            where = "standard input" if args.request == "-" else args.request
            raise InvalidRequest(f"{where} is not UTF-8 text (byte {exc.start})") from None
        result = rebalance(request_from_json(text))
    except EngineError as exc:
        print(json.dumps({"error": exc.to_dict()}, indent=2), file=sys.stderr)
        return next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), 4)
    sys.stdout.write(explain(result) if args.explain else result_to_json(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

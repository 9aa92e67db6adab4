"""Command line: ``python -m rebalancing.engine solve request.json [--explain]``.

``python -m rebalancing.engine household request.json`` rebalances a household (a JSON household
request, ``examples/household/``); ``... withdraw request.json --amount N [--kind rmd] [--born ACCOUNT=YYYY-MM-DD]
[--account ID]`` plans a withdrawal from it.

Prints the result as JSON (or, with ``--explain``, as a table).  Errors print
``{"error": {"code", "message", "detail"}}`` on stderr and exit with status 2 (bad request),
3 (infeasible parameters) or 4 (solver failure).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from .errors import EngineError, InfeasibleParameters, InvalidRequest
from .explain import explain
from .household import rebalance_household
from .rebalancer import rebalance
from .serialization import (
    household_request_from_dict,
    household_result_to_dict,
    request_from_json,
    result_to_json,
    withdrawal_plan_to_dict,
)
from .withdrawal import WITHDRAWAL_KINDS, plan_withdrawal

__all__ = ["main"]

EXIT_CODES = {InvalidRequest: 2, InfeasibleParameters: 3}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the CLI; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m rebalancing.engine", description="Rebalancing engine")
    commands = parser.add_subparsers(dest="command", required=True)
    solve = commands.add_parser("solve", help="rebalance one account described by a JSON request")
    solve.add_argument("request", help="path to the request JSON ('-' for standard input)")
    solve.add_argument("--explain", action="store_true", help="print a human-readable table instead of JSON")
    household = commands.add_parser("household", help="rebalance a household described by a JSON request")
    household.add_argument("request", help="path to the household request JSON ('-' for standard input)")
    withdraw = commands.add_parser("withdraw", help="plan a withdrawal or RMD from a household")
    withdraw.add_argument("request", help="path to the household request JSON ('-' for standard input)")
    withdraw.add_argument("--amount", type=float, required=True, help="money to raise")
    withdraw.add_argument("--kind", choices=WITHDRAWAL_KINDS, default="withdrawal")
    withdraw.add_argument("--account", help="the account it must come from (an RMD: the IRA)")
    withdraw.add_argument("--born", action="append", default=[], metavar="ACCOUNT=YYYY-MM-DD",
                          help="a traditional account's owner's date of birth (repeatable): under 59½, "
                               "that IRA comes last and bears the 10%% early-distribution tax")
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
        if args.command == "solve":
            result = rebalance(request_from_json(text))
            out = explain(result) if args.explain else result_to_json(result) + "\n"
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
            request = household_request_from_dict(data)
            if args.command == "household":
                out = json.dumps(household_result_to_dict(rebalance_household(request)), indent=2) + "\n"
            else:
                plan = plan_withdrawal(request, amount=args.amount, kind=args.kind, account_id=args.account,
                                       birth_dates=_birth_dates(args.born, request))
                out = json.dumps(withdrawal_plan_to_dict(plan), indent=2) + "\n"
    except EngineError as exc:
        print(json.dumps({"error": exc.to_dict()}, indent=2), file=sys.stderr)
        return next((code for kind, code in EXIT_CODES.items() if isinstance(exc, kind)), 4)
    sys.stdout.write(out)
    return 0


def _birth_dates(given: list[str], request) -> dict[str, date]:
    """``--born``'s dates by account: each a traditional account of the household (the only kind
    whose owner's age orders it and bears the 10% early-distribution tax), born by the request's day.
    A mistyped account would silently drop both."""
    statuses = {a.request.account.id: a.tax_status for a in request.accounts}
    out = {}
    for text in given:
        account, _, day = text.partition("=")
        try:
            born = date.fromisoformat(day)
        except ValueError:
            raise InvalidRequest(f"--born {text!r}: write ACCOUNT=YYYY-MM-DD") from None
        if account not in statuses:
            raise InvalidRequest(f"--born {text!r}: the household has no account {account!r} (its accounts: "
                                 f"{', '.join(statuses)})", {"account": account})
        if statuses[account] != "traditional":
            raise InvalidRequest(f"--born {text!r}: {account} is a {statuses[account]} account; a date of birth "
                                 "is given for a traditional account's owner", {"account": account})
        if born > request.as_of:
            raise InvalidRequest(f"--born {text!r}: {born} is after the request's day {request.as_of}",
                                 {"account": account})
        out[account] = born
    return out


if __name__ == "__main__":
    raise SystemExit(main())

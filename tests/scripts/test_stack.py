"""The launcher behind `make demo` / `make test`: where it finds its database."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def _load_stack():
    spec = importlib.util.spec_from_file_location("stack", ROOT / "scripts" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configured_database_url_wins(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://someone@db.example:5433/book")
    assert _load_stack().resolve_database("rebalancing") == "postgres://someone@db.example:5433/book"


def test_embedded_postgres_fallback_serves_a_real_database(tmp_path):
    tmp_path.chmod(0o755)  # the embedded server runs as its own system user when we are root
    probe = (
        "import sys, psycopg; sys.path.insert(0, 'scripts'); import stack;"
        "url = stack.resolve_database('demo_book'); stack.ensure_database_exists(url);"
        "conn = psycopg.connect(url.replace('postgres://', 'postgresql://', 1));"
        "print('DB=' + conn.execute('SELECT current_database()').fetchone()[0]); conn.close()"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"EMBEDDED_POSTGRES": "1", "DATA_DIR": str(tmp_path)}

    # A separate process: the embedded server stops when the process that started it exits.
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)

    assert "DB=demo_book" in result.stdout, result.stderr[-2000:]
    assert (tmp_path / "pg" / "PG_VERSION").exists()

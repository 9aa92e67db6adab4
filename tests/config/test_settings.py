import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_str

ROOT = Path(__file__).resolve().parent.parent.parent
STRONG_KEY = "k3J9-q8Zr!x2Lm7Vb4Nc6Ht1Pw5Yd0Ge8Sa3Uf7Ij2Oh9Ek4Rl6Tn1Mq5Xz0Cy8Wv3"


def _production(**env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_DEBUG", "CELERY_BROKER_URL"}}
    base |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused",
        "ALLOWED_HOSTS": ".rebalance.example.com",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "REDIS_URL": "redis://127.0.0.1:6379/1",
    } | env
    base = {k: v for k, v in base.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=base, capture_output=True, text=True, timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _production(SECRET_KEY=None)
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SECRET_KEY": "django-insecure-local-development-only"}, "SECRET_KEY is a default or weak value"),
        ({"SECRET_KEY": STRONG_KEY, "DJANGO_DEBUG": "true"}, "DJANGO_DEBUG must be off in production"),
        ({"SECRET_KEY": STRONG_KEY, "CELERY_BROKER_URL": "filesystem://"}, "must name a real broker"),
        ({"SECRET_KEY": STRONG_KEY, "DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be a boolean"),
        ({"SECRET_KEY": STRONG_KEY, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true"},
         "WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be off in production"),
        ({"SECRET_KEY": STRONG_KEY, "SITE_SCHEME": "ftp"}, "SITE_SCHEME must be one of http, https, got 'ftp'"),
        ({"SECRET_KEY": STRONG_KEY, "SITE_PORT": "70000"}, "SITE_PORT must be a port number"),
    ],
)
def test_production_refuses_insecure_configuration(env, message):
    result = _production(**env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = _production(SECRET_KEY=STRONG_KEY)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_env_readers_name_the_variable(monkeypatch):
    monkeypatch.delenv("SOME_REQUIRED", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SOME_REQUIRED"):
        env_str("SOME_REQUIRED")
    monkeypatch.setenv("SOME_INT", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_INT must be an integer"):
        env_int("SOME_INT", 1)
    monkeypatch.setenv("SOME_LIST", " a.example, ,b.example ")
    assert env_list("SOME_LIST") == ["a.example", "b.example"]
    monkeypatch.setenv("SOME_FLAG", "off")
    assert env_bool("SOME_FLAG", True) is False


def test_the_demo_with_debug_off_renders_pages_without_collectstatic(tmp_path):
    # `scripts/run demo` runs the local settings with DEBUG off and serves static files from the
    # apps' folders; a manifest storage would make every page a 500 (no collectstatic ran).
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_DEBUG", "DATABASE_URL"}}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.local", "DJANGO_DEBUG": "false", "DATA_DIR": str(tmp_path),
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/unused"}
    code = ("import django; django.setup(); from django.conf import settings; "
            "from django.templatetags.static import static; "
            "from django.template.loader import render_to_string; "
            "assert not settings.DEBUG; print(static('frontend/app.css')); print(len(render_to_string('404.html')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == "/static/frontend/app.css"

"""Production refuses to start without a shared cache: without REDIS_URL the cache is each process's
LocMemCache (config/settings/base.py CACHES), so API_RATE_WHATIF's "60/min per key" became 60/min per
gunicorn worker per pod, and the sign-in and "Forgot your password?" limits likewise (docs/api.md,
"Rates" promises a count per key per firm). As it refuses a filesystem broker, it refuses this."""

import pytest

from tests.config.test_settings import STRONG_KEY, _production


@pytest.mark.parametrize("redis_url", [None, "", "locmem://"])
def test_production_refuses_to_start_without_a_shared_cache(redis_url):
    result = _production(SECRET_KEY=STRONG_KEY, REDIS_URL=redis_url)

    assert result.returncode != 0, result.stdout
    assert "REDIS_URL must name the shared Redis cache" in result.stderr


def test_production_starts_with_a_redis_cache():
    result = _production(SECRET_KEY=STRONG_KEY, REDIS_URL="redis://127.0.0.1:6379/1")

    assert result.returncode == 0, result.stderr


def test_the_deployment_examples_set_it():
    from tests.config.test_settings import ROOT

    compose_env = (ROOT / "docker" / ".env.example").read_text(encoding="utf-8").splitlines()
    kubernetes = (ROOT / "platform" / "k8s" / "secret.example.yaml").read_text(encoding="utf-8")
    assert any(line.startswith("REDIS_URL=redis://") for line in compose_env)
    assert 'REDIS_URL: "rediss://' in kubernetes

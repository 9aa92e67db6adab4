"""Developer and demo settings. `make demo` resolves a database and broker and records them in
.data/runtime.env, so a later `./manage.py shell` talks to the same ones."""

from pathlib import Path

from config.env import load_env_file

load_env_file(Path(__file__).resolve().parent.parent.parent / ".data" / "runtime.env")

import os  # noqa: E402

os.environ.setdefault("SECRET_KEY", "django-insecure-local-development-only")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rebalancing")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ.setdefault("SITE_SCHEME", "http")  # runserver: no TLS
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "true")  # the demo's receivers run on this machine

from .base import *  # noqa: E402,F403

# The demo runs with DEBUG off (the product's 403/404/500 pages) and `runserver --insecure` serves
# static files from the apps' folders: no collectstatic, so no manifest to look names up in.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

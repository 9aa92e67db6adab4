# Gunicorn configuration for the web process.
#
#     gunicorn -c platform/gunicorn.conf.py config.wsgi:application
#
# Gunicorn reads this FILE by path (it executes it as a throwaway module named "__config__");
# nothing imports it. platform/ is deliberately not a Python package: a top-level package called
# "platform" would shadow the standard library's `platform` module. The dots in this file's name
# also make it impossible to import as a module by accident.
#
# Every knob can be overridden from the environment so that one image serves every deployment
# size; the defaults are the ones we run in Kubernetes (see platform/k8s/web-deployment.yaml).
import datetime
import json
import logging
import math
import os

from gunicorn import glogging


def _env_int(name, default):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {value!r}") from exc


def _available_cpus():
    """CPUs this container may actually use.

    os.cpu_count() reports the whole node inside a container, which would start dozens of
    workers in a pod limited to one CPU (and get it OOM-killed). Honour the cgroup CPU quota
    (v2, then v1), then the affinity mask.
    """
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:  # cgroup v2: "<quota> <period>" or "max <period>"
            quota, period = fh.read().split()
        if quota != "max":
            return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as fq, open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fp:
            quota, period = int(fq.read()), int(fp.read())
        if quota > 0:
            return max(1, math.ceil(quota / period))
    except (OSError, ValueError):
        pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


# --- Socket -------------------------------------------------------------------------------------
# All interfaces: the pod IP must be reachable by the Service and the kubelet's probes. PORT is what
# Procfile platforms (Heroku-style) hand us.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_env_int('PORT', 8000)}"
backlog = 2048

# --- Workers ------------------------------------------------------------------------------------
# The classic 2*CPU+1, capped: web requests are mostly database I/O (the heavy optimiser runs in
# Celery), and every worker costs a few hundred MB once numpy/pandas/cvxpy are imported. In
# Kubernetes WEB_CONCURRENCY is set explicitly per pod and capacity comes from more replicas.
WORKERS_CAP = 12
workers = _env_int("WEB_CONCURRENCY", 0) or min(2 * _available_cpus() + 1, WORKERS_CAP)

# gthread: a pool of threads per process, so a slow client or a slow query does not block a whole
# process, without the monkey-patching of gevent/eventlet (psycopg and numpy stay untouched).
worker_class = "gthread"
threads = _env_int("GUNICORN_THREADS", 4)

# Load the Django application once in the master, then fork: copy-on-write shares the imported
# libraries between workers (less memory per pod) and an import error fails the pod at start-up
# instead of in a crash-looping worker. Safe because Django opens database connections lazily,
# per thread, after the fork. Set GUNICORN_PRELOAD=false to disable (e.g. for --reload in dev).
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() in ("1", "true", "yes", "on")

# Recycle workers after a bounded number of requests so slow leaks (C extensions, caches) cannot
# grow without limit; the jitter keeps all workers from restarting at the same moment.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# --- Timeouts -----------------------------------------------------------------------------------
# A worker silent for this long is killed and replaced. Keep it in line with the ingress
# proxy-read-timeout (60 s); anything longer than a few seconds belongs in a Celery task.
timeout = _env_int("GUNICORN_TIMEOUT", 60)
# On SIGTERM, in-flight requests get this long to finish. Must stay below the pod's
# terminationGracePeriodSeconds minus the preStop sleep (45 - 5 s in web-deployment.yaml).
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Idle keep-alive must outlive the load balancer's upstream idle timeout (60 s for ingress-nginx
# and AWS ALB); otherwise gunicorn closes a connection the proxy is about to reuse -> random 502s.
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)

# --- Proxy --------------------------------------------------------------------------------------
# Trust X-Forwarded-* (scheme, for request.is_secure() and SECURE_SSL_REDIRECT) from any peer:
# pods are only reachable through the ingress controller (see k8s/networkpolicy.yaml), and the
# peer address of that controller is not stable. Narrow this with FORWARDED_ALLOW_IPS (a comma
# separated list of addresses/CIDRs) where the network is not locked down.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# --- Files --------------------------------------------------------------------------------------
# The worker heartbeat files live in RAM: the root filesystem is read-only in Kubernetes, and a
# heartbeat on a disk-backed /tmp can stall under I/O pressure and get healthy workers killed.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", "/dev/shm" if os.path.isdir("/dev/shm") else None)

# gunicorn >= 25.1 opens a control socket for `gunicornc` under $HOME by default; with a read-only
# root filesystem that directory cannot be created. Off unless a path is given (e.g.
# GUNICORN_CONTROL_SOCKET=/tmp/gunicorn.ctl, /tmp being a writable emptyDir in Kubernetes).
# Older gunicorn ignores both settings.
_control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()
control_socket_disable = not _control_socket
if _control_socket:
    control_socket = _control_socket

# --- Logging ------------------------------------------------------------------------------------
# One JSON object per line on stdout, like the Django application itself, so the log pipeline
# needs a single parser. Health probes that succeed are not logged (they are most of the traffic
# and carry no information).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# We replace the messages of the access log entirely (see JsonLogger.access), so
# access_log_format is unused.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
        }
        http = getattr(record, "http", None)
        if http:
            entry.update(http)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class JsonLogger(glogging.Logger):
    """gunicorn's logger with JSON output for both the error and the access log."""

    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        try:
            status = resp.status
            if isinstance(status, str):
                status = status.split(None, 1)[0]
            status = int(status)
            path = environ.get("PATH_INFO", "")
            if path in QUIET_PATHS and status < 400:
                return
            duration_ms = request_time.total_seconds() * 1000.0
            http = {
                "method": environ.get("REQUEST_METHOD"),
                "path": path,
                "query": environ.get("QUERY_STRING") or None,
                "status": status,
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(duration_ms, 2),
                # The Host header names the firm: tenants are <slug>.<BASE_DOMAIN>.
                "host": environ.get("HTTP_HOST"),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
                "request_id": environ.get("HTTP_X_REQUEST_ID"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "protocol": environ.get("SERVER_PROTOCOL"),
            }
            self.access_log.info(
                "%s %s %s", http["method"], path, status, extra={"http": {k: v for k, v in http.items() if v is not None}}
            )
        except Exception:
            self.exception("could not write the access log entry")


logger_class = JsonLogger

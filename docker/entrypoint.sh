#!/usr/bin/env bash
# Container entrypoint: one image, one process type per container.
#
#   web                 gunicorn (platform/gunicorn.conf.py)
#   worker              Celery worker; CELERY_QUEUES picks the pool (default: rebalance,default,notify,
#                     every queue of config/celery_queues.py)
#   beat                Celery beat -- run exactly ONE per deployment, or every nightly job runs twice
#   migrate             python manage.py migrate_schemas --noinput [extra args]  (the release step)
#   manage ARGS...      python manage.py ARGS...  (e.g. manage create_firm --name ... --slug ...)
#   anything else       executed as given (e.g. bash, python -c ...)
#
# Extra arguments after web/worker/beat are appended to that command line.
# Every long-running command is exec'd so it receives SIGTERM directly from tini (PID 1) and can
# shut down gracefully: gunicorn finishes in-flight requests, Celery finishes its running tasks.
set -euo pipefail

cd "${APP_HOME:-/app}"

# CPUs this container may use. Celery's default (os.cpu_count()) is the whole node, which inside a
# 2-CPU pod on a 64-core node would fork 64 solver processes and get the pod OOM-killed.
available_cpus() {
  local quota period
  if [[ -r /sys/fs/cgroup/cpu.max ]]; then                    # cgroup v2: "<quota> <period>" | "max <period>"
    read -r quota period < /sys/fs/cgroup/cpu.max
    if [[ $quota != max ]]; then
      echo $(( (quota + period - 1) / period )); return
    fi
  elif [[ -r /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]]; then       # cgroup v1
    quota=$(< /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
    period=$(< /sys/fs/cgroup/cpu/cpu.cfs_period_us)
    if (( quota > 0 )); then
      echo $(( (quota + period - 1) / period )); return
    fi
  fi
  nproc   # honours the CPU affinity mask
}

cmd="${1:-web}"
if [[ $# -gt 0 ]]; then shift; fi

case "$cmd" in
  web)
    exec gunicorn -c platform/gunicorn.conf.py config.wsgi:application "$@"
    ;;
  worker)
    queues="${CELERY_QUEUES:-rebalance,default,notify}"
    # prefork + -O fair: the optimiser is CPU-bound, so one process per CPU, and a task goes to a
    # child only when it is free (with acks_late and prefetch 1 from the settings, a slow solve never
    # holds other messages hostage). The child guards recycle processes that grew (KiB for memory).
    # No gossip/mingle: with many workers they only add broker chatter and slow start-up.
    exec celery -A config.celery_app worker \
      --loglevel="${LOG_LEVEL:-INFO}" \
      --queues="$queues" \
      --hostname="${queues//,/-}@%h" \
      --pool=prefork \
      --concurrency="${CELERY_WORKER_CONCURRENCY:-$(available_cpus)}" \
      --optimization=fair \
      --max-tasks-per-child="${CELERY_MAX_TASKS_PER_CHILD:-300}" \
      --max-memory-per-child="${CELERY_MAX_MEMORY_PER_CHILD_KB:-600000}" \
      --without-gossip --without-mingle \
      "$@"
    ;;
  beat)
    # The schedule state file must be writable; the root filesystem is read-only in Kubernetes.
    exec celery -A config.celery_app beat \
      --loglevel="${LOG_LEVEL:-INFO}" \
      --schedule="${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" \
      "$@"
    ;;
  migrate)
    # Public schema first, then every firm's schema. Static files are collected at build time.
    exec python manage.py migrate_schemas --noinput "$@"
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    exec "$cmd" "$@"
    ;;
esac

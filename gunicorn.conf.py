"""gunicorn's settings for Sheber (read from the working directory by ``gunicorn``).

    gunicorn 'marketplace:create_app()'

Every value can be overridden on the command line or with ``GUNICORN_CMD_ARGS``. ``WEB_WORKERS``
sets the process count (default: one per core, at least 2), ``WEB_MAX_REQUESTS`` the requests
after which a process is replaced (default 100,000, 10% jitter; 0: never). Each process keeps
its Prometheus counts in ``PROMETHEUS_MULTIPROC_DIR`` (default: a fresh folder per gunicorn
start) so that ``/metrics`` adds up every process; the folder of a process that exits is marked
dead.
"""

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
# sync workers: the app is CPU and database bound, requests are short; one per core
workers = int(os.environ.get("WEB_WORKERS") or max(2, multiprocessing.cpu_count()))
timeout = int(os.environ.get("WEB_TIMEOUT_SECONDS", "60"))
keepalive = 5
# Recycle a process now and then so that a slow leak never grows without bound
# (WEB_MAX_REQUESTS; 0: never). A new process takes about a second to start, and requests that
# reach it then wait: over 17,500 list pages one process's RSS grew 76 KB (171,028 to 171,104),
# so the recycling is rare, not every 10,000 requests, which at 250 requests/s per process
# stalled someone every 40 s.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "100000"))
max_requests_jitter = max_requests // 10

if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _metrics_dir = tempfile.mkdtemp(prefix="sheber-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir
else:
    _metrics_dir = None


def on_starting(server):
    # counts of an earlier run would be added to this one's
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.unlink(os.path.join(folder, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)

"""Gunicorn settings for the web process (`gunicorn -c gunicorn.conf.py wsgi:app`).

gthread workers: each Server-Sent Events stream holds one thread for up to
STREAM_MAX_SECONDS (then the browser reconnects with Last-Event-ID), while ordinary
requests stay short. Size GUNICORN_THREADS for the open streams you expect per worker,
or run a second gunicorn for /api/v1/me/stream only behind the proxy.
"""
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = None  # the app writes its own structured access log with request ids
errorlog = "-"
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = 100
# gunicorn's control socket (gunicornc) defaults to one shared path under the home directory,
# so two deployments on a host would fight over it: off unless GUNICORN_CONTROL_SOCKET names a
# path of this deployment's own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET") or None
control_socket_disable = control_socket is None
if control_socket:
    control_socket_mode = 0o600

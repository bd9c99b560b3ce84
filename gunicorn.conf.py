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

# One image, four processes (docs/decisions/web-server.md):
#   web:    granian --interface wsgi wsgi:app                (the default command; also serves /app/ and /console/)
#   stream: granian --interface asgi --factory --port 8001 --blocking-threads 1 backend.stream_app:create_app
#           (the citizens' live stream, /api/v1/me/stream, behind the same reverse proxy)
#   worker: python -m backend.worker [QUEUE ...]             (all queues, or those named)
#   bot:    granian --interface wsgi --port 8080 bots.app:app (the chat bot, a client of the web's API)
# Migrations: flask --app wsgi db upgrade
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIAOJIA_ENV=production \
    PIAOJIA_INSTANCE_PATH=/app/instance \
    GRANIAN_HOST=0.0.0.0 \
    GRANIAN_PORT=8000 \
    GRANIAN_WORKERS=2 \
    GRANIAN_BLOCKING_THREADS=4 \
    GRANIAN_LOG_LEVEL=warning \
    GRANIAN_WEBSOCKETS=false

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY backend backend
COPY miniapp_mock miniapp_mock
COPY bots bots
COPY wsgi.py ./

RUN useradd --system --uid 10001 --home-dir /app piaojia \
    && mkdir -p /app/instance && chown piaojia /app/instance
USER piaojia

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["granian", "--interface", "wsgi", "wsgi:app"]

# One image, three processes:
#   web:    gunicorn -c gunicorn.conf.py wsgi:app            (the default command; also serves /app/ and /console/)
#   worker: python -m backend.worker [QUEUE ...]             (all queues, or those named)
#   bot:    gunicorn -b 0.0.0.0:8080 bots.app:app            (the chat bot, a client of the web's API)
# Migrations: flask --app wsgi db upgrade
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIAOJIA_ENV=production \
    PIAOJIA_INSTANCE_PATH=/app/instance

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY backend backend
COPY miniapp_mock miniapp_mock
COPY bots bots
COPY wsgi.py gunicorn.conf.py ./

RUN useradd --system --uid 10001 --home-dir /app piaojia \
    && mkdir -p /app/instance && chown piaojia /app/instance
USER piaojia

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]

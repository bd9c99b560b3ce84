#!/usr/bin/env bash
# Installs and starts Piaojia on the embedded default: SQLite in ./instance, jobs inline,
# nothing else to start, demo data loaded through the real signed-webhook path.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv requirements.txt

export PIAOJIA_ENV="${PIAOJIA_ENV:-development}"
export FLASK_APP=wsgi
PORT="${PORT:-5000}"
HOST="${HOST:-127.0.0.1}"

echo "==> database schema"
flask db upgrade 2>&1 | grep -v "^INFO" || true
echo "==> demo data"
flask seed-demo

cat <<INFO

Piaojia 票夹 is starting on the embedded default (SQLite in ./instance, jobs inline).
  Home              http://$HOST:$PORT/
  Mini-app (citizen) http://$HOST:$PORT/app/        sign in as a demo citizen
  Unit console      http://$HOST:$PORT/console/    sign in with a unit's client_id/client_secret (printed above)
  API docs          http://$HOST:$PORT/api/docs
  API base          http://$HOST:$PORT/api/v1
  OpenAPI spec      http://$HOST:$PORT/api/v1/openapi.json
  Health            http://$HOST:$PORT/healthz   http://$HOST:$PORT/readyz
  Demo citizens     POST http://$HOST:$PORT/api/v1/demo/assertion {"citizen": "zhangsan" | "lisi" | "wangwu" | "zhaoliu"}
                    then POST /api/v1/auth/citizen {"assertion": …} → Bearer token for /api/v1/me/receipts
  Operator          the client_id/client_secret printed above → POST /api/v1/oauth/token
Press Ctrl+C to stop.

INFO
exec flask run --host "$HOST" --port "$PORT"

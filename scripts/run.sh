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

# The chat bot, mounted at /bot/ in this process: its API client, the push secret it shares
# with the backend, a demo WeChat token (plain mode; set WECHAT_ENCODING_AES_KEY for safe mode).
INSTANCE="${PIAOJIA_INSTANCE_PATH:-$PWD/instance}"
mkdir -p "$INSTANCE"
[ -s "$INSTANCE/bot_client.json" ] || flask create-bot-client 票夹助手 > "$INSTANCE/bot_client.json"
[ -s "$INSTANCE/bot_push_secret" ] || python -c "import base64,secrets;print('whsec_'+base64.b64encode(secrets.token_bytes(32)).decode())" > "$INSTANCE/bot_push_secret"
export PIAOJIA_MOUNT_BOT=1
export BOT_CLIENT_ID="$(python -c "import json,sys;print(json.load(open(sys.argv[1]))['client_id'])" "$INSTANCE/bot_client.json")"
export BOT_CLIENT_SECRET="$(python -c "import json,sys;print(json.load(open(sys.argv[1]))['client_secret'])" "$INSTANCE/bot_client.json")"
export BOT_PUSH_SECRET="$(cat "$INSTANCE/bot_push_secret")"
export BOT_PUSH_URL="${BOT_PUSH_URL:-http://127.0.0.1:$PORT/bot/push}"
export PIAOJIA_API_URL="${PIAOJIA_API_URL:-http://127.0.0.1:$PORT}"
export WECHAT_TOKEN="${WECHAT_TOKEN:-piaojia-demo-token}"
export WECHAT_APP_ID="${WECHAT_APP_ID:-wxpiaojiademo0001}"

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
  Chat bot          mounted at http://$HOST:$PORT/bot/ (WeChat callback /bot/wechat, web chat /bot/chat = the 助手 tab)
                    terminal chat:   .venv/bin/python -m bots.console zhangsan
                    WeChat message:  eval "\$(.venv/bin/python -m bots.demo_curl 帮助)"   (a freshly signed plain-mode push)
                    bind WeChat:     mini-app 我的 → 获取绑定码, then: eval "\$(.venv/bin/python -m bots.demo_curl '绑定 123456')"
Press Ctrl+C to stop.

INFO
exec flask run --host "$HOST" --port "$PORT"

#!/usr/bin/env bash
# Installs everything and runs the whole test suite twice: on PostgreSQL + Redis (the
# production path, started here when they are down) and on the embedded default (SQLite,
# jobs inline). Extra arguments go to pytest, e.g. ./scripts/test.sh -k wallet -x
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv requirements-dev.txt

PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"
TEST_DB="${PIAOJIA_TEST_DB:-piaojia_test}"
REDIS_PORT="${REDIS_PORT:-6379}"
REDIS_DB="${PIAOJIA_TEST_REDIS_DB:-15}"

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: '$1' not found; install $2" >&2; exit 1; }; }

ensure_postgres() {
  need pg_isready "the PostgreSQL client (apt-get install postgresql)"
  if ! pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    echo "==> starting PostgreSQL"
    need pg_ctlcluster "PostgreSQL (apt-get install postgresql)"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start
    for _ in $(seq 1 60); do pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break; sleep 0.5; done
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" || { echo "error: PostgreSQL did not come up" >&2; exit 1; }
  fi
  if ! psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$TEST_DB'" | grep -q 1; then
    echo "==> creating database $TEST_DB"
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $TEST_DB"
  fi
}

ensure_redis() {
  need redis-cli "Redis (apt-get install redis-server)"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    echo "==> starting Redis"
    need redis-server "Redis (apt-get install redis-server)"
    redis-server --daemonize yes --port "$REDIS_PORT" --save "" --appendonly no
    for _ in $(seq 1 60); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.5; done
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || { echo "error: Redis did not come up" >&2; exit 1; }
  fi
}

ensure_chromium() {
  # The browser tests drive Debian's chromium through Playwright; nothing downloads a browser.
  if ! command -v chromium >/dev/null 2>&1; then
    echo "==> installing chromium (Debian package) for the browser tests"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y -q chromium fonts-wqy-microhei >/dev/null 2>&1 \
      || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium fonts-wqy-microhei >/dev/null; } \
      || { echo "error: could not install chromium (apt-get install chromium)" >&2; exit 1; }
  fi
}

ensure_postgres
ensure_redis
ensure_chromium

echo "==> layering contracts (import-linter, .importlinter)"
lint-imports --no-cache

status=0
echo "==> suite on PostgreSQL ($TEST_DB) and Redis (db $REDIS_DB)"
TEST_DATABASE_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$TEST_DB" \
TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/$REDIS_DB" \
  python -m pytest -q -p no:cacheprovider "$@" || status=1

echo "==> suite on the embedded default (SQLite, jobs inline)"
env -u TEST_DATABASE_URL -u TEST_REDIS_URL python -m pytest -q -p no:cacheprovider "$@" || status=1

if [ "$status" -ne 0 ]; then
  echo "FAILED: see the runs above" >&2
fi
exit "$status"

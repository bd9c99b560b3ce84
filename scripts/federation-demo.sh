#!/usr/bin/env bash
# A national hub and three provincial nodes on one machine (embedded default: SQLite files,
# jobs inline), with demo data: Hainan's node (46) holds the Sanya hospitals' receipts,
# among them 王五's, a Guangdong resident treated in Sanya; Guangdong's node (44) has a
# counter and an insurer. Ctrl+C stops all four.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv requirements.txt

BASE="${FEDERATION_DEMO_DIR:-$PWD/instance-federation}"
HUB_PORT="${HUB_PORT:-5100}"
declare -A PORTS=([46]=5146 [44]=5144 [42]=5142)
mkdir -p "$BASE"
export FLASK_APP=wsgi PIAOJIA_ENV=development FEDERATION_PAYER_KEY="${FEDERATION_PAYER_KEY:-piaojia-federation-demo-payer-key}"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT INT TERM

run_node() {  # name role province port [hub_url]
  local name=$1 role=$2 province=$3 port=$4 hub=${5:-}
  (
    export PIAOJIA_INSTANCE_PATH="$BASE/$name" DATABASE_URL="sqlite:///$BASE/$name.sqlite3" NODE_ROLE="$role" \
           NODE_PROVINCE="$province" NODE_URL="http://127.0.0.1:$port" HUB_URL="$hub"
    flask db upgrade >/dev/null 2>&1
    exec flask run --port "$port" --no-reload >"$BASE/$name.log" 2>&1
  ) &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
  echo "error: $name did not start; see $BASE/$name.log" >&2; exit 1
}

node_cli() {  # name province port [hub_url] -- flask args
  local name=$1 province=$2 port=$3 hub=$4; shift 4
  PIAOJIA_INSTANCE_PATH="$BASE/$name" DATABASE_URL="sqlite:///$BASE/$name.sqlite3" NODE_PROVINCE="$province" \
    NODE_URL="http://127.0.0.1:$port" HUB_URL="$hub" NODE_ROLE="${ROLE:-node}" flask "$@"
}

HUB="http://127.0.0.1:$HUB_PORT"
echo "==> hub on $HUB"
run_node hub hub 00 "$HUB_PORT"
for p in 46 44 42; do
  echo "==> node $p on http://127.0.0.1:${PORTS[$p]}"
  run_node "n$p" node "$p" "${PORTS[$p]}" "$HUB"
  ROLE=hub node_cli hub 00 "$HUB_PORT" "" federation add-node "$p" "http://127.0.0.1:${PORTS[$p]}" 2>/dev/null | grep -q '"province"' \
    || ROLE=hub node_cli hub 00 "$HUB_PORT" "" federation refresh-node "$p" >/dev/null
done
echo "==> demo data: Hainan's hospitals push their receipts to node 46; units on 44 and 42"
node_cli n46 46 "${PORTS[46]}" "$HUB" seed-demo | grep -v "^Issuer" || true
node_cli n44 44 "${PORTS[44]}" "$HUB" seed-demo --units-only | grep "^Unit" || true
node_cli n42 42 "${PORTS[42]}" "$HUB" seed-demo --units-only | grep "^Unit" || true

cat <<INFO

Federation demo running: hub $HUB, nodes 46 (海南) 44 (广东) 42 (湖北).
  1. Guangdong: open http://127.0.0.1:${PORTS[44]}/app/ and sign in as 王五 — a Guangdong resident
     treated in Sanya: his Hainan receipts appear (province 46), pulled from node 46 through the hub.
  2. Open http://127.0.0.1:${PORTS[44]}/console/ with the Guangdong counter's client_id/secret above,
     新建授权, scan or paste the link in the mini-app, approve; lock and reimburse — node 46 decides.
  3. Hub directory: curl $HUB/api/v1/federation/directory
Press Ctrl+C to stop all four.
INFO
wait

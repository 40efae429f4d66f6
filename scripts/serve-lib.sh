# Sourced by bench.sh and soak.sh: runs the release server on loopback.

# start_server LOG [serve flags...]: starts `inference-hub serve` on a free
# loopback port, waits until it is ready, and sets SERVER_PID and SERVER_ADDR.
start_server() {
  local log=$1
  shift
  # The embedded job store beside the log, not in the checkout.
  "$bin" serve --host 127.0.0.1 --port 0 --memory-log-secs 0 --data-dir "$(dirname "$log")/data" "$@" 2>"$log" &
  SERVER_PID=$!
  SERVER_ADDR=""
  for _ in $(seq 100); do
    SERVER_ADDR=$(grep -o 'listening on [0-9.:]*' "$log" | awk '{print $3}' || true)
    [ -n "$SERVER_ADDR" ] && break
    sleep 0.1
  done
  [ -n "$SERVER_ADDR" ] || { echo "the server did not start; see $log"; return 1; }
  for _ in $(seq 600); do
    curl -fs "http://$SERVER_ADDR/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "the server did not become ready; see $log"
  return 1
}

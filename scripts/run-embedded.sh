#!/usr/bin/env bash
# Run the embedded default: the web server on 127.0.0.1:8000 (PORTAL_ADDRESS=host:port for another), a
# Celery worker and beat, all on SQLite and kombu's filesystem broker under var/. Ctrl-C, SIGTERM or SIGHUP
# (to this script, to `make`, or to their whole process group) stops all three and everything they started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
export DJANGO_SETTINGS_MODULE=portal.settings.local
ADDRESS="${PORTAL_ADDRESS:-127.0.0.1:8000}"
export PORTAL_URL="${PORTAL_URL:-http://$ADDRESS}"  # the links in mail lead to where the portal runs
HEALTH="http://${ADDRESS/#0.0.0.0:/127.0.0.1:}/healthz"  # listening on every interface: ask over loopback
mkdir -p var/log var/mail

STOP_SECONDS="${PORTAL_STOP_SECONDS:-20}"  # the worker's warm shutdown finishes its running tasks first

# Each of the three runs in a process group of its own (job control), so a signal sent to the whole
# group of `make run` reaches this script only: the Celery worker stops its pool itself. A pool process
# that got SIGTERM from outside while the worker shut down left the worker hanging, kept running.
set -m
pids=()
stopping=0
alive() {
  local pid left=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
  echo "${left[@]}"
}
kill_groups() {  # each process and whatever it started (a pool), by process group
  local pid
  for pid in "${pids[@]}"; do kill "-$1" -- "-$pid" 2>/dev/null || true; done
}
stop() {
  set +e  # a sleep ended by the second Ctrl-C is no reason to leave anything running
  if (( stopping )); then kill_groups KILL; return; fi
  stopping=1
  trap 'echo " Stopping now."; kill_groups KILL' INT TERM HUP  # asked twice: no more waiting
  echo; echo "Stopping the portal, the worker and beat…"
  local pid deadline=$((SECONDS + STOP_SECONDS))
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  while [[ -n "$(alive)" ]] && (( SECONDS < deadline )); do sleep 0.2; done
  [[ -z "$(alive)" ]] || echo "Still running after ${STOP_SECONDS}s: killed." >&2
  kill_groups KILL  # what is left, and any process of theirs that outlived them
  wait 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM HUP  # Ctrl-C is the normal way to stop: not an error
trap stop EXIT

"$BIN/celery" -A portal worker --concurrency=2 --loglevel=INFO --hostname="embedded@%h" \
  </dev/null >var/log/worker.log 2>&1 &
pids+=($!)
"$BIN/celery" -A portal beat --loglevel=INFO --pidfile= </dev/null >var/log/beat.log 2>&1 &
pids+=($!)
"$BIN/python" manage.py runserver "$ADDRESS" --noreload </dev/null >var/log/web.log 2>&1 &
pids+=($!)
set +m

for _ in $(seq 1 100); do
  if "$BIN/python" - "$HEALTH" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
PY
  sleep 0.2
done

cat <<MSG

  Partner Portal is running at $PORTAL_URL/   (admin: $PORTAL_URL/admin/)
  Health:   $PORTAL_URL/healthz
  Mail:     var/mail/  (every message the portal sends is a file there)
  Logs:     var/log/web.log, var/log/worker.log, var/log/beat.log
  Press Ctrl-C to stop (or send SIGTERM).

MSG
# Stop everything as soon as any of the three exits.
wait -n "${pids[@]}" || true
echo "A process exited; see var/log/." >&2

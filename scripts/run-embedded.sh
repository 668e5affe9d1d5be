#!/usr/bin/env bash
# Run the embedded default: the web server on 127.0.0.1:8000, a Celery worker and beat, all on
# SQLite and kombu's filesystem broker under var/. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
export DJANGO_SETTINGS_MODULE=portal.settings.local
ADDRESS="${PORTAL_ADDRESS:-127.0.0.1:8000}"
mkdir -p var/log var/mail

pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "Stopping the portal, the worker and beat…"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM  # Ctrl-C is the normal way to stop: not an error
trap stop EXIT

"$BIN/celery" -A portal worker --concurrency=2 --loglevel=INFO --hostname="embedded@%h" \
  >var/log/worker.log 2>&1 &
pids+=($!)
"$BIN/celery" -A portal beat --loglevel=INFO --pidfile= >var/log/beat.log 2>&1 &
pids+=($!)
"$BIN/python" manage.py runserver "$ADDRESS" --noreload >var/log/web.log 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  if "$BIN/python" - "$ADDRESS" <<'PY' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}/healthz", timeout=2).read()
PY
  sleep 0.2
done

cat <<MSG

  Partner Portal is running at http://$ADDRESS/   (admin: http://$ADDRESS/admin/)
  Health:   http://$ADDRESS/healthz
  Mail:     var/mail/  (every message the portal sends is a file there)
  Logs:     var/log/web.log, var/log/worker.log, var/log/beat.log
  Press Ctrl-C to stop.

MSG
# Stop everything as soon as any of the three exits.
wait -n "${pids[@]}"
echo "A process exited; see var/log/." >&2

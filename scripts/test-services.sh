#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer for the test suite; print `export` lines for eval.
#
# Uses DATABASE_URL / REDIS_URL when set, else the machine's servers on their standard
# ports. When those do not answer, it starts the system PostgreSQL cluster, and failing
# that a throwaway one (trust auth, loopback only) under var/test-services/, and likewise
# a throwaway Redis. Throwaway servers stay up for the next run; `make clean` removes them.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE="$PWD/var/test-services"
log() { echo "test-services: $*" >&2; }

if [ "${1:-}" = --stop ]; then  # stop the throwaway servers this script started, if any
  if [ -f "$STATE/pg/data/postmaster.pid" ]; then
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pg_bin/pg_ctl" -D "$STATE/pg/data" -m fast stop >&2 || true
    else "$pg_bin/pg_ctl" -D "$STATE/pg/data" -m fast stop >&2 || true; fi
  fi
  redis-cli -p 63799 shutdown nosave >/dev/null 2>&1 || true
  exit 0
fi

pg_answers() {  # $1: URL of a database to connect to
  psql "$1" -qAtc 'SELECT 1' >/dev/null 2>&1
}
maintenance_url() {  # the same server, database "postgres"
  echo "${1%/*}/postgres"
}

database_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/portal}"
if ! pg_answers "$(maintenance_url "$database_url")"; then
  if [ -z "${DATABASE_URL:-}" ] && command -v pg_lsclusters >/dev/null; then
    read -r version cluster status < <(pg_lsclusters --no-header | awk '$3 == 5432 {print $1, $2, $4}') || true
    if [ -n "${version:-}" ] && [ "$status" != online ]; then
      log "starting the system PostgreSQL cluster $version/$cluster"
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start >&2 || true
      sleep 1
    fi
  fi
fi
if ! pg_answers "$(maintenance_url "$database_url")"; then
  [ -n "${DATABASE_URL:-}" ] && { log "DATABASE_URL=$DATABASE_URL does not answer"; exit 1; }
  port=54329
  database_url="postgres://portal:portal@127.0.0.1:$port/portal"
  if ! pg_answers "$(maintenance_url "$database_url")"; then
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    dir="$STATE/pg"
    log "starting a throwaway PostgreSQL ($bin) on port $port in $dir"
    owner=root; [ "$(id -u)" -eq 0 ] && owner=postgres
    as_pg() { if [ "$owner" = root ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
    mkdir -p "$dir/run"; chmod 755 "$STATE"; chown -R "$owner": "$dir"; chmod 700 "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 -N >"$STATE/initdb.log" 2>&1 \
        || { cat "$STATE/initdb.log" >&2; exit 1; }
    fi
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start -o \
      "-p $port -c listen_addresses=127.0.0.1 -k $dir/run -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2
    psql "postgres://postgres@127.0.0.1:$port/postgres" -qAt -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<'SQL' || true
CREATE ROLE portal LOGIN PASSWORD 'portal' CREATEDB;
CREATE DATABASE portal OWNER portal;
SQL
    pg_answers "$(maintenance_url "$database_url")" || { log "PostgreSQL did not come up"; exit 1; }
  fi
fi
# The suite creates test_<name>; the named database itself only has to exist for Django's
# migration-history check (makemigrations --check).
db_name="${database_url##*/}"
psql "$(maintenance_url "$database_url")" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1 \
  || psql "$(maintenance_url "$database_url")" -qAtc "CREATE DATABASE \"$db_name\"" >&2
log "PostgreSQL: $(psql "$(maintenance_url "$database_url")" -qAtc 'SHOW server_version')"

redis_answers() { [ "$(redis-cli -u "$1" ping 2>/dev/null)" = PONG ]; }
redis_url="${REDIS_URL:-redis://127.0.0.1:6379/15}"
if ! redis_answers "$redis_url"; then
  [ -n "${REDIS_URL:-}" ] && { log "REDIS_URL=$REDIS_URL does not answer"; exit 1; }
  port=63799
  redis_url="redis://127.0.0.1:$port/15"
  if ! redis_answers "$redis_url"; then
    log "starting a throwaway Redis on port $port"
    mkdir -p "$STATE/redis"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$STATE/redis" \
      --daemonize yes --logfile "$STATE/redis/redis.log" >&2
    for _ in $(seq 1 100); do redis_answers "$redis_url" && break; sleep 0.05; done
    redis_answers "$redis_url" || { log "Redis did not come up"; exit 1; }
  fi
fi
log "Redis: $redis_url"

echo "export DATABASE_URL='$database_url'"
echo "export REDIS_URL='$redis_url'"

#!/usr/bin/env bash
# A throw-away PostgreSQL server for Tributary's tests and benchmarks, from Debian's
# `postgresql` package (initdb + pg_ctl, no system service, no Docker).
#
# Usage: scripts/postgres.sh start|stop|restart|url|status
#
#   start    initdb a cluster in $TRIBUTARY_PG_DIR (if not running), start it on
#            127.0.0.1 and a free port, wait until it accepts connections, and
#            print its URL as the ONLY line on stdout:
#              URL=$(scripts/postgres.sh start)
#            Idempotent: when the cluster already runs, prints its URL again.
#   stop     stop the server (fast shutdown) and delete $TRIBUTARY_PG_DIR.
#   restart  pg_ctl restart (fast) on the same port and data; waits until ready.
#   halt     stop the server (fast) but keep its data and port (tests of an outage).
#   resume   start a halted server again on the same port and data; waits until ready.
#   url      print the URL if the server runs (exit 3 otherwise).
#   status   exit 0 iff the server runs and accepts connections (3: not running).
#
# The cluster has wal_level=logical, room for replication slots and WAL senders,
# listens on 127.0.0.1 only, and lets the superuser `tributary` (with REPLICATION)
# in without a password (trust) to the database `tributary`. When called as root,
# initdb and the server run as an unprivileged user: $PG_RUN_AS, else `postgres`
# if it exists, else a `tributary-pg` system user created on demand.
#
# Environment (defaults in brackets):
#   TRIBUTARY_PG_DIR   [${TMPDIR:-/tmp}/tributary-pg] state: data/, server.log, port
#   PG_BIN             [newest /usr/lib/postgresql/*/bin, else `pg_config --bindir`]
#   PG_PORT            [a free port]
#   PG_RUN_AS          [postgres | tributary-pg] user to run as when root
#   PG_EXTRA_CONF      [] lines appended to postgresql.conf
#   PG_START_TIMEOUT   [60] seconds

set -euo pipefail

STATE=${TRIBUTARY_PG_DIR:-${TMPDIR:-/tmp}/tributary-pg}
DATA=$STATE/data
LOG=$STATE/server.log
PORT_FILE=$STATE/port
PG_START_TIMEOUT=${PG_START_TIMEOUT:-60}
PG_USER_NAME=tributary
PG_DB_NAME=tributary

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

find_bin() {
  if [[ -n ${PG_BIN:-} ]]; then printf '%s' "$PG_BIN"; return; fi
  local dir best=
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x $dir/initdb ]] && best=$dir
  done
  if [[ -z $best ]] && command -v pg_config >/dev/null 2>&1; then
    best=$(pg_config --bindir)
  fi
  [[ -n $best && -x $best/initdb ]] || die "no PostgreSQL binaries found (install Debian's postgresql package, or set PG_BIN)"
  printf '%s' "$best"
}
BIN=$(find_bin)

# The user that owns the cluster when we are root; empty when we are not root.
run_user() {
  [[ $(id -u) -eq 0 ]] || return 0
  if [[ -n ${PG_RUN_AS:-} ]]; then printf '%s' "$PG_RUN_AS"; return; fi
  if id postgres >/dev/null 2>&1; then printf 'postgres'; return; fi
  if ! id tributary-pg >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin tributary-pg >/dev/null 2>&1 \
      || die "cannot create the user tributary-pg; set PG_RUN_AS to an unprivileged user"
  fi
  printf 'tributary-pg'
}
RUN_USER=$(run_user)

# Runs a PostgreSQL binary as the cluster owner.
as_owner() {
  if [[ -n $RUN_USER ]]; then
    runuser -u "$RUN_USER" -- "$@" 9>&-
  else
    "$@" 9>&-
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  if [[ -n ${PG_PORT:-} ]]; then printf '%s' "$PG_PORT"; return; fi
  local i port
  for i in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! port_open "$port"; then printf '%s' "$port"; return; fi
  done
  die "no free port found"
}

url() { printf 'postgres://%s@127.0.0.1:%s/%s' "$PG_USER_NAME" "$(cat "$PORT_FILE")" "$PG_DB_NAME"; }

running() {
  [[ -f $DATA/postmaster.pid && -f $PORT_FILE ]] || return 1
  as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(cat "$PORT_FILE")" -d "$PG_DB_NAME" -U "$PG_USER_NAME" 2>/dev/null; }

wait_ready() {
  local deadline=$(( $(date +%s) + PG_START_TIMEOUT ))
  until ready; do
    (( $(date +%s) < deadline )) || { tail -n 30 "$LOG" >&2 || true; die "PostgreSQL did not accept connections within ${PG_START_TIMEOUT}s"; }
    sleep 0.1
  done
}

init_cluster() {
  rm -rf "$STATE"
  mkdir -p "$STATE"
  [[ -z $RUN_USER ]] || chown "$RUN_USER" "$STATE"
  chmod 700 "$STATE"
  free_port >"$PORT_FILE"
  as_owner "$BIN/initdb" -D "$DATA" -U "$PG_USER_NAME" --auth=trust --no-sync -E UTF8 --locale=C >"$STATE/initdb.log" 2>&1 \
    || { cat "$STATE/initdb.log" >&2; die "initdb failed"; }
  cat >>"$DATA/postgresql.conf" <<EOF
# --- tributary test cluster (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
port = $(cat "$PORT_FILE")
unix_socket_directories = '$STATE'
wal_level = logical
max_replication_slots = 40
max_wal_senders = 40
max_connections = 200
fsync = off
full_page_writes = off
shared_buffers = 256MB
max_wal_size = 2GB
wal_sender_timeout = 60s
timezone = 'UTC'
log_min_messages = warning
${PG_EXTRA_CONF:-}
EOF
  cat >"$DATA/pg_hba.conf" <<EOF
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
local replication all trust
EOF
}

start() {
  if running; then
    wait_ready
    url; echo
    return
  fi
  init_cluster
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$PG_START_TIMEOUT" start >/dev/null 2>&1 \
    || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl start failed"; }
  wait_ready
  as_owner "$BIN/psql" -q -h "$STATE" -p "$(cat "$PORT_FILE")" -U "$PG_USER_NAME" -d postgres \
    -c "CREATE DATABASE $PG_DB_NAME" >/dev/null 2>&1 || true
  wait_ready
  log "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') running in $DATA as ${RUN_USER:-$(id -un)}"
  url; echo
}

stop() {
  if [[ -f $DATA/postmaster.pid ]]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || log "pg_ctl stop failed (was it running?)"
  fi
  rm -rf "$STATE" "$STATE.lock"
}

restart() {
  running || die "not running"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -m fast -w -t "$PG_START_TIMEOUT" restart >/dev/null 2>&1 \
    || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl restart failed"; }
  wait_ready
}

halt() {
  running || die "not running"
  as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || die "pg_ctl stop failed"
}

resume() {
  if running; then wait_ready; return; fi
  [[ -f $PORT_FILE ]] || die "no halted cluster in $STATE"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$PG_START_TIMEOUT" start >/dev/null 2>&1 \
    || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl start failed"; }
  wait_ready
}

# One command at a time per state dir (test files may start the cluster concurrently).
mkdir -p "$(dirname "$STATE")"
exec 9>"$STATE.lock"
flock 9

case ${1:-} in
  start) start ;;
  stop) stop ;;
  restart) restart ;;
  halt) halt ;;
  resume) resume ;;
  url) if running; then url; echo; else exit 3; fi ;;
  status) if running && ready; then exit 0; else exit 3; fi ;;
  *) die "usage: $0 start|stop|restart|halt|resume|url|status" ;;
esac

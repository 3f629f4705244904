#!/usr/bin/env bash
# A throwaway "Supabase" for the tests: PostgreSQL 15 + postrust (a PostgREST-compatible server) on loopback.
#
#   scripts/test-stack.sh start    start the stack (idempotent: a running stack is left as it is)
#   scripts/test-stack.sh stop     stop it and delete its directory (idempotent)
#   scripts/test-stack.sh status   exit 0 if the stack is up and answering, 1 if not
#   scripts/test-stack.sh env      print the stack's env file, for `set -a; source <(...)` or eval
#   scripts/test-stack.sh install  install postrust if it is missing
#
# The env file ($HS_STACK_DIR/stack.env) holds:
#   HS_TEST_REST_URL      PostgREST base URL (no /rest/v1 prefix), e.g. http://127.0.0.1:54330
#   HS_TEST_SERVICE_KEY   a service_role JWT (HS256, iss=supabase), like a Supabase project's service key
#   HS_TEST_JWT_SECRET    the secret postrust checks JWTs with (to sign other tokens in tests)
#   HS_TEST_DATABASE_URL  superuser connection to the database, postgres://postgres@127.0.0.1:<port>/postgres
#
# Settings (environment):
#   HS_STACK_DIR      where the cluster, logs and env file live      /tmp/hikvision-sync-stack
#   HS_PG_PORT        PostgreSQL port (127.0.0.1 only)                 54329, or the next free one
#   HS_REST_PORT      postrust port (127.0.0.1 only)                   54330, or the next free one
#                     (a port given explicitly must be free, no fallback)
#   HS_PG_BIN         PostgreSQL 15 binaries                           /usr/lib/postgresql/15/bin
#   HS_POSTRUST_BIN   postrust binary                                  `postrust` on PATH or ~/.cargo/bin
#   HS_STACK_TIMEOUT  seconds to wait for postrust to answer           60
#
# Roles are created as on Supabase: anon, authenticated (nologin), service_role (nologin, bypassrls),
# authenticator (login, noinherit, member of the three), plus Supabase's default privileges on schema
# public, so the migrations' grants and revokes are tested as they will behave there. Authentication
# is `trust`, which is fine because everything listens on 127.0.0.1 only.
set -euo pipefail

readonly STACK_DIR="${HS_STACK_DIR:-/tmp/hikvision-sync-stack}"
readonly PG_BIN="${HS_PG_BIN:-/usr/lib/postgresql/15/bin}"
readonly TIMEOUT="${HS_STACK_TIMEOUT:-60}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly MIGRATIONS_DIR="$REPO_ROOT/supabase/migrations"
# A fixed secret: this stack is throwaway and loopback-only. Never use it anywhere else.
readonly JWT_SECRET="hikvision-sync-test-jwt-secret-not-for-production"

readonly PGDATA_DIR="$STACK_DIR/pgdata"
readonly PG_RUN_DIR="$STACK_DIR/pgrun"        # unix socket + postgres.log, owned by the cluster owner
readonly PG_LOG="$PG_RUN_DIR/postgres.log"
readonly REST_LOG="$STACK_DIR/postrust.log"
readonly REST_PID="$STACK_DIR/postrust.pid"
readonly ENV_FILE="$STACK_DIR/stack.env"
readonly PORTS_FILE="$STACK_DIR/ports"
readonly LOCK_FILE="${STACK_DIR%/}.lock"
readonly POSTRUST_BUILD_DIR="$HOME/.cache/hs-postrust-build"

log() { printf '[test-stack] %s\n' "$*" >&2; }
die() { printf '[test-stack] error: %s\n' "$*" >&2; exit 1; }

# Serialise start/stop of the same stack dir (two test runs at once, an interrupted run, ...).
take_lock() {
    exec 9>"$LOCK_FILE"
    if ! flock -w 600 9; then die "could not lock $LOCK_FILE within 10 minutes"; fi
}

# Commands that touch the cluster run as its owner: `postgres` when we are root, ourselves otherwise.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        # runuser lives in /usr/sbin, which a minimal PATH may lack.
        "$(command -v runuser || echo /usr/sbin/runuser)" -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_owner() { if [[ $(id -u) -eq 0 ]]; then echo postgres; else id -un; fi; }

port_is_free() {
    python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# As servers do (postgres, tokio): connections of an earlier run in TIME_WAIT do not make a port busy.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

# pick_port <explicit value or empty> <default> <port to avoid>
pick_port() {
    local explicit="$1" port="$2" avoid="$3" tries
    if [[ -n "$explicit" ]]; then
        [[ "$explicit" =~ ^[0-9]+$ ]] || die "port '$explicit' is not a number"
        port_is_free "$explicit" || die "port $explicit on 127.0.0.1 is in use (set another one)"
        echo "$explicit"
        return
    fi
    for ((tries = 0; tries < 100; tries++)); do
        if [[ "$port" != "$avoid" ]] && port_is_free "$port"; then
            echo "$port"
            return
        fi
        port=$((port + 2))
    done
    die "no free port found near $2 on 127.0.0.1"
}

# HTTP status of GET <url> ("000" when nothing answers). python3 so that curl is not required.
http_status() {
    python3 - "$1" <<'EOF'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
EOF
}

find_postrust() {
    local candidate
    for candidate in "${HS_POSTRUST_BIN:-}" "$(command -v postrust 2>/dev/null || true)" \
        "${CARGO_HOME:-$HOME/.cargo}/bin/postrust"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_postrust() {
    if find_postrust >/dev/null; then return 0; fi
    [[ -z "${HS_POSTRUST_BIN:-}" ]] || die "HS_POSTRUST_BIN=$HS_POSTRUST_BIN is not an executable"
    command -v cargo >/dev/null || die "postrust is missing and there is no cargo to install it with"
    log "postrust not found: installing it (cargo install postrust-server, a few minutes; build cache in $POSTRUST_BUILD_DIR)"
    # Not --locked: the published lock file is not what the compat-key-order build is tested with.
    CARGO_TARGET_DIR="$POSTRUST_BUILD_DIR" cargo install postrust-server --features compat-key-order \
        || die "cargo install postrust-server failed"
    find_postrust >/dev/null || die "postrust was installed but is neither on PATH nor in ${CARGO_HOME:-$HOME/.cargo}/bin"
}

pg_running() { [[ -f "$PGDATA_DIR/PG_VERSION" ]] && as_pg "$PG_BIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1; }

# Alive and not a zombie (an exited process its parent has not reaped yet: a container's pid 1 may be slow).
pid_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo R)" != Z ]]
}

# The pid in the pid file, if that process is alive and is postrust (guards against pid reuse).
postrust_pid() {
    local pid
    [[ -f "$REST_PID" ]] || return 1
    pid="$(cat "$REST_PID")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    pid_alive "$pid" || return 1
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null || echo postrust)" == postrust* ]] || return 1
    echo "$pid"
}

stack_healthy() {
    [[ -f "$ENV_FILE" && -f "$PORTS_FILE" ]] || return 1
    pg_running || return 1
    postrust_pid >/dev/null || return 1
    local rest_port
    rest_port="$(sed -n 's/^rest=//p' "$PORTS_FILE")"
    [[ "$(http_status "http://127.0.0.1:$rest_port/")" != 000 ]]
}

# Stop postrust and PostgreSQL, keep the directory (and its logs).
stop_servers() {
    local pid i
    if pid="$(postrust_pid)"; then
        log "stopping postrust (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
        if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    if pg_running; then
        log "stopping PostgreSQL"
        as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 30 >/dev/null \
            || as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 30 >/dev/null || true
    fi
}

stop_stack() {
    stop_servers
    if [[ -e "$STACK_DIR" ]]; then
        # Refuse to delete anything that does not look like our stack dir.
        if [[ -f "$PGDATA_DIR/PG_VERSION" || -f "$ENV_FILE" || -f "$REST_LOG" || -f "$PORTS_FILE" \
            || -z "$(ls -A "$STACK_DIR" 2>/dev/null)" ]]; then
            rm -rf -- "$STACK_DIR"
        else
            die "$STACK_DIR does not look like a test stack; not deleting it"
        fi
    fi
}

tail_log() { [[ -f "$1" ]] && { echo "---- last lines of $1 ----"; tail -n "${2:-40}" "$1"; echo "----"; } >&2 || true; }

psql_super() {
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres "$@"
}

make_service_key() {
    python3 - "$JWT_SECRET" <<'EOF'
import base64, hashlib, hmac, json, sys, time

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

secret = sys.argv[1].encode()
now = int(time.time())
header = {"alg": "HS256", "typ": "JWT"}
# Same claims as a Supabase project's legacy service_role key; exp about 20 years ahead.
payload = {"iss": "supabase", "role": "service_role", "iat": now, "exp": now + 20 * 365 * 24 * 3600}
signing_input = b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
    b64url(json.dumps(payload, separators=(",", ":")).encode())
signature = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
print(signing_input + "." + b64url(signature))
EOF
}

# One checksum over the migration files' names and contents, to notice that a running stack is outdated.
migrations_sum() {
    (cd "$MIGRATIONS_DIR" && LC_ALL=C find . -maxdepth 1 -type f -name '*.sql' | LC_ALL=C sort \
        | while IFS= read -r f; do printf '%s\n' "$f"; cat "$f"; done) | sha256sum | cut -d' ' -f1
}

start_stack() {
    if stack_healthy; then
        if [[ "$(cat "$STACK_DIR/migrations.sha256" 2>/dev/null)" == "$(migrations_sum)" ]]; then
            log "already running ($(tr '\n' ' ' <"$PORTS_FILE")); env file: $ENV_FILE"
            return 0
        fi
        log "running, but supabase/migrations changed since it started: restarting it"
    fi
    if [[ -e "$STACK_DIR" ]]; then
        log "removing the previous (stale, half-started or outdated) stack in $STACK_DIR first"
        stop_stack
    fi

    # A start that fails half-way stops what it started and keeps the logs (the next start cleans up).
    trap 'rc=$?; if ((rc != 0)); then stop_servers; log "start failed; logs kept in $STACK_DIR"; fi' EXIT

    [[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL 15 not found in $PG_BIN (apt-get install postgresql-15, or set HS_PG_BIN)"
    command -v python3 >/dev/null || die "python3 is required"
    ensure_postrust
    local postrust_bin
    postrust_bin="$(find_postrust)"

    PG_PORT="$(pick_port "${HS_PG_PORT:-}" 54329 0)"
    local rest_port
    rest_port="$(pick_port "${HS_REST_PORT:-}" 54330 "$PG_PORT")"

    mkdir -p "$STACK_DIR"
    chmod 755 "$STACK_DIR"
    mkdir -p "$PGDATA_DIR" "$PG_RUN_DIR"
    chmod 700 "$PGDATA_DIR"
    chown "$(pg_owner)" "$PGDATA_DIR" "$PG_RUN_DIR"
    printf 'pg=%s\nrest=%s\n' "$PG_PORT" "$rest_port" >"$PORTS_FILE"
    as_pg test -w "$PGDATA_DIR" \
        || die "user $(pg_owner) cannot write to $PGDATA_DIR (is a parent directory private?); set HS_STACK_DIR"

    log "PostgreSQL: new cluster in $PGDATA_DIR on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$STACK_DIR/initdb.log" 2>&1 || { tail_log "$STACK_DIR/initdb.log"; die "initdb failed"; }
    # Throwaway data: durability off, loopback only.
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- scripts/test-stack.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 64MB
timezone = 'UTC'
EOF
    # 9>&-: the servers must not inherit the lock, or it would be held for as long as they run.
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start >/dev/null 9>&- \
        || { tail_log "$PG_LOG"; die "PostgreSQL did not start"; }

    log "creating Supabase roles"
    psql_super <<'EOF'
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;
grant usage on schema public to anon, authenticated, service_role;
-- What a Supabase project does for objects created in public: clients get everything by default,
-- and it is up to RLS and to each migration's revokes to take it away.
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
EOF

    local migration found=0
    while IFS= read -r migration; do
        found=1
        log "applying ${migration#"$REPO_ROOT"/}"
        psql_super --single-transaction -f "$migration" || die "migration $migration failed"
    done < <(LC_ALL=C find "$MIGRATIONS_DIR" -maxdepth 1 -type f -name '*.sql' | LC_ALL=C sort)
    [[ $found -eq 1 ]] || die "no migrations found in $MIGRATIONS_DIR"
    migrations_sum >"$STACK_DIR/migrations.sha256"

    log "starting $postrust_bin on 127.0.0.1:$rest_port (log: $REST_LOG)"
    # A clean environment, so nothing from the caller (PORT, PGRST_*, DATABASE_URL, ...) leaks in.
    env -i \
        PATH="/usr/local/bin:/usr/bin:/bin" \
        HOME="$HOME" \
        NO_COLOR=1 \
        RUST_LOG="${HS_POSTRUST_LOG:-postrust=info}" \
        DATABASE_URL="postgres://authenticator@127.0.0.1:$PG_PORT/postgres" \
        PGRST_DB_SCHEMAS=public \
        PGRST_DB_ANON_ROLE=anon \
        PGRST_DB_CHANNEL_ENABLED=true \
        PGRST_COMPAT_MODE=true \
        PGRST_JWT_SECRET="$JWT_SECRET" \
        PGRST_SERVER_HOST=127.0.0.1 \
        PGRST_SERVER_PORT="$rest_port" \
        PGRST_DB_POOL=10 \
        "$postrust_bin" </dev/null >>"$REST_LOG" 2>&1 9>&- &
    echo $! >"$REST_PID"

    local deadline=$((SECONDS + TIMEOUT)) status
    while :; do
        if ! postrust_pid >/dev/null; then
            tail_log "$REST_LOG"
            die "postrust exited during start-up (log: $REST_LOG)"
        fi
        status="$(http_status "http://127.0.0.1:$rest_port/")"
        [[ "$status" == 000 ]] || break
        if ((SECONDS >= deadline)); then
            tail_log "$REST_LOG"
            die "postrust did not answer on http://127.0.0.1:$rest_port/ within ${TIMEOUT}s (log: $REST_LOG)"
        fi
        sleep 0.2
    done

    local key
    key="$(make_service_key)"
    cat >"$ENV_FILE.tmp" <<EOF
HS_TEST_REST_URL=http://127.0.0.1:$rest_port
HS_TEST_SERVICE_KEY=$key
HS_TEST_JWT_SECRET=$JWT_SECRET
HS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
EOF
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    trap - EXIT
    log "up: REST http://127.0.0.1:$rest_port (HTTP $status at /), PostgreSQL 127.0.0.1:$PG_PORT; env file: $ENV_FILE"
}

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    start)
        take_lock
        start_stack
        ;;
    stop)
        take_lock
        stop_stack
        log "stopped"
        ;;
    status)
        if stack_healthy; then
            echo "running ($(tr '\n' ' ' <"$PORTS_FILE"))"
        else
            echo "not running"
            exit 1
        fi
        ;;
    env)
        [[ -f "$ENV_FILE" ]] || die "no env file at $ENV_FILE: run '$0 start' first"
        cat "$ENV_FILE"
        ;;
    install)
        take_lock
        ensure_postrust
        log "postrust: $(find_postrust)"
        ;;
    *) usage ;;
esac

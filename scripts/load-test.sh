#!/usr/bin/env bash
# Load test: waves of concurrent POST /api/hikvision/update-angajat-photo against the embedded demo
# (the real service, release build, with its three in-process simulated terminals), from a second
# process on loopback (oha). Records the status-code distribution, latency percentiles, req/s, the
# per-terminal outcomes (from the service's JSON log) and the service's memory (VmRSS / VmHWM from
# /proc/<pid>/status) before, between and after the waves.
#
#   scripts/load-test.sh                 1,000 requests at 1,000 concurrent connections, 2 waves
#
# Settings (environment):
#   LOAD_REQUESTS      requests per wave                                1000
#   LOAD_CONCURRENCY   concurrent connections (oha -c)                   1000
#   LOAD_WAVES         waves                                             2
#   LOAD_PORT          the demo's port on 127.0.0.1                      18080
#   LOAD_TIMEOUT       per-request timeout of the load generator         60s
#   LOAD_OUT           where the log, oha's JSON and the summary go      /tmp/hikvision-sync-load
#   LOAD_MAX_GROWTH_KIB  allowed VmRSS growth from the end of wave 1 to the end of the last wave
#                      (memory "flat between waves")                     8192
#   CARGO_TARGET_DIR   as for cargo (the release binary is taken from there)
#
# Every demo request updates the first demo employee on all three terminals: FDModify on two, and on
# the old-firmware one FDModify (notSupport) -> FaceDataRecord -> FDSetUp, each call with Digest auth
# and each face downloaded by the terminal from the demo's photo route. So one API request is about
# 15 HTTP exchanges inside the service process. RATE_LIMIT_DELAY_MS=0 turns the per-terminal pacing
# off (with the default 500 ms, 1,000 requests to one terminal would need 8 minutes by design).
#
# It fails (exit 1) on any non-200 response, any load-generator error, any per-terminal result other
# than success, or memory growth between the waves beyond LOAD_MAX_GROWTH_KIB.
# Needs: cargo, curl, jq, oha (installed with `cargo install oha --locked` when missing, ~3 min).
# Loopback only; bounded in count (LOAD_REQUESTS x LOAD_WAVES) and time (LOAD_TIMEOUT per request).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly REQUESTS="${LOAD_REQUESTS:-1000}"
readonly CONCURRENCY="${LOAD_CONCURRENCY:-1000}"
readonly WAVES="${LOAD_WAVES:-2}"
readonly PORT="${LOAD_PORT:-18080}"
readonly TIMEOUT="${LOAD_TIMEOUT:-60s}"
readonly OUT="${LOAD_OUT:-/tmp/hikvision-sync-load}"
readonly MAX_GROWTH_KIB="${LOAD_MAX_GROWTH_KIB:-8192}"
readonly TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
readonly BIN="$TARGET_DIR/release/hikvision-sync"
readonly ANGAJAT_ID="6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01" # Ion Popescu in config/demo.json
readonly URL="http://127.0.0.1:$PORT/api/hikvision/update-angajat-photo"

log() { printf '[load-test] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}

for tool in cargo curl jq; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if ! command -v oha >/dev/null; then
  log "oha is missing: cargo install oha --locked (about 3 minutes)"
  cargo install oha --locked
fi

log "building the release binary"
(cd "$REPO_ROOT" && cargo build --release --bin hikvision-sync)

mkdir -p "$OUT"
rm -f "$OUT"/wave*.json "$OUT/service.log" "$OUT/summary.md"
# The demo runs in an empty directory, so no developer .env (API_KEY, SUPABASE_*) leaks in.
WORKDIR="$(mktemp -d)"
readonly WORKDIR

SERVICE_PID=""
cleanup() {
  if [[ -n "$SERVICE_PID" ]] && kill -0 "$SERVICE_PID" 2>/dev/null; then
    kill "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
  fi
  rm -rf "$WORKDIR"
}
trap cleanup EXIT

log "starting the demo on 127.0.0.1:$PORT (RATE_LIMIT_DELAY_MS=0, log: $OUT/service.log)"
(
  cd "$WORKDIR"
  exec env -u API_KEY -u SUPABASE_URL -u SUPABASE_SERVICE_ROLE_KEY -u SUPABASE_JWT_SECRET \
    RATE_LIMIT_DELAY_MS=0 LOG_FORMAT=json RUST_LOG="${RUST_LOG:-info}" \
    "$BIN" demo --bind "127.0.0.1:$PORT" --data "$REPO_ROOT/config/demo.json"
) >"$OUT/service.log" 2>&1 &
SERVICE_PID=$!

for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "$SERVICE_PID" 2>/dev/null || die "the demo exited; see $OUT/service.log"
  sleep 0.25
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || die "no /health after 30 s"

mem() { # VmRSS and VmHWM of the service, in KiB
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r, h}' "/proc/$SERVICE_PID/status"
}
# Per-terminal outcomes logged so far ("terminal done" lines), as {"Success": n, ...}.
outcomes() {
  grep -a '"terminal done"' "$OUT/service.log" |
    jq -s -c 'map(.fields.status // .status) | group_by(.) | map({key: .[0], value: length}) | from_entries'
}

read -r RSS_IDLE HWM_IDLE < <(mem)
log "idle: VmRSS ${RSS_IDLE} KiB"
log "one request first, to show the expected per-terminal results:"
curl -fsS -X POST "$URL" -H 'content-type: application/json' -d "{\"angajat_id\": \"$ANGAJAT_ID\"}" |
  jq -c '{summary, per_device: [.per_device[] | {device_name, status, method}]}' >&2

declare -a RSS_AFTER HWM_AFTER
FAILED=0
{
  echo "| wave | requests | 200 | other statuses | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | per-terminal results | VmRSS after (KiB) | VmHWM (KiB) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT/summary.md"

for wave in $(seq 1 "$WAVES"); do
  before_outcomes="$(grep -ac '"terminal done"' "$OUT/service.log" || true)"
  log "wave $wave: $REQUESTS requests, $CONCURRENCY concurrent"
  oha -n "$REQUESTS" -c "$CONCURRENCY" -t "$TIMEOUT" --no-tui --output-format json \
    -m POST -H 'content-type: application/json' -d "{\"angajat_id\": \"$ANGAJAT_ID\"}" \
    "$URL" >"$OUT/wave$wave.json"
  read -r rss hwm < <(mem)
  RSS_AFTER[wave]=$rss
  HWM_AFTER[wave]=$hwm
  # Only this wave's per-terminal lines.
  wave_outcomes="$(grep -a '"terminal done"' "$OUT/service.log" | tail -n +"$((before_outcomes + 1))" |
    jq -s -c 'map(.fields.status // .status) | group_by(.) | map({key: .[0], value: length}) | from_entries')"
  row="$(jq -r --arg wave "$wave" --arg outcomes "$wave_outcomes" --arg rss "$rss" --arg hwm "$hwm" '
    def ms: if . == null then "-" else (. * 1000 * 10 | round / 10 | tostring) end;
    (.statusCodeDistribution // {}) as $codes
    | ($codes["200"] // 0) as $ok
    | ([$codes | to_entries[] | select(.key != "200") | "\(.key): \(.value)"] | join(", ")) as $other
    | ((.errorDistribution // {}) | to_entries | map("\(.key): \(.value)") | join(", ")) as $errors
    | "| \($wave) | \([$codes[]] | add // 0) | \($ok) | \(if $other == "" then "none" else $other end) | \(if $errors == "" then "none" else $errors end) | \(.summary.requestsPerSec | . * 10 | round / 10) | \(.latencyPercentiles.p50 | ms) | \(.latencyPercentiles.p90 | ms) | \(.latencyPercentiles.p99 | ms) | \(.summary.slowest | ms) | \($outcomes) | \($rss) | \($hwm) |"
  ' "$OUT/wave$wave.json")"
  echo "$row" >>"$OUT/summary.md"
  log "$row"

  ok="$(jq '.statusCodeDistribution["200"] // 0' "$OUT/wave$wave.json")"
  errors="$(jq '[(.errorDistribution // {})[]] | add // 0' "$OUT/wave$wave.json")"
  if [[ "$ok" != "$REQUESTS" || "$errors" != "0" ]]; then
    log "FAIL wave $wave: $ok of $REQUESTS answered 200, $errors load-generator errors"
    FAILED=1
  fi
  expected_success=$((REQUESTS * 3))
  got_success="$(jq '.Success // 0' <<<"$wave_outcomes")"
  if [[ "$got_success" != "$expected_success" ]]; then
    log "FAIL wave $wave: $got_success of $expected_success per-terminal results are success: $wave_outcomes"
    FAILED=1
  fi
done

read -r RSS_END HWM_END < <(mem)
growth=$((RSS_END - RSS_AFTER[1]))
{
  echo
  echo "VmRSS: idle ${RSS_IDLE} KiB; after wave 1 ${RSS_AFTER[1]} KiB; after wave $WAVES ${RSS_END} KiB (growth between waves: ${growth} KiB); peak (VmHWM) ${HWM_END} KiB."
  echo "Per-terminal results over the whole run: $(outcomes)."
} >>"$OUT/summary.md"
if ((growth > MAX_GROWTH_KIB)); then
  log "FAIL: VmRSS grew by $growth KiB between the end of wave 1 and the end of wave $WAVES (limit $MAX_GROWTH_KIB)"
  FAILED=1
fi

echo
cat "$OUT/summary.md"
echo
echo "oha JSON: $OUT/wave*.json; service log: $OUT/service.log"
if ((FAILED)); then
  log "FAILED"
  exit 1
fi
log "passed"

#!/usr/bin/env bash
# Load test: waves of concurrent POST /api/hikvision/update-angajat-photo against the embedded demo
# (the real service, release build, with its three in-process simulated terminals), from a second
# process on loopback (oha). Records the status-code distribution, latency percentiles, req/s, the
# per-terminal outcomes (from the service's JSON log) and the service's memory (VmRSS / VmHWM from
# /proc/<pid>/status) before, between and after the waves. Figures of a run: BENCHMARKS.md.
#
#   scripts/load-test.sh                    warm-up wave, then 2 waves of 1,000 requests at 1,000
#                                           concurrent connections
#   LOAD_HEAPTRACK=1 scripts/load-test.sh   the same under heaptrack: the exact leak check (below)
#
# Settings (environment):
#   LOAD_REQUESTS        requests per wave                                   1000
#   LOAD_CONCURRENCY     concurrent connections (oha -c)                     1000
#   LOAD_WAVES           measured waves                                      2
#   LOAD_WARMUP          warm-up waves before them (not measured)            1
#   LOAD_PORT            the demo's port on 127.0.0.1                        18080
#   LOAD_TIMEOUT         per-request timeout of the load generator           60s
#   LOAD_OUT             where the log, oha's JSON and the summary go         /tmp/hikvision-sync-load
#   LOAD_MAX_GROWTH_PCT  allowed VmRSS growth from the end of the first measured wave to the end of
#                        the last one, in % of the former                    15
#   LOAD_HEAPTRACK       1: run the demo under heaptrack; after the waves, wait LOAD_DRAIN_SECS for
#                        idle connections to close, stop it, and fail if the heap still in use
#                        ("total memory leaked") exceeds LOAD_MAX_LEAK_KIB     0
#   LOAD_DRAIN_SECS      (heaptrack) idle wait before stopping               70
#   LOAD_MAX_LEAK_KIB    (heaptrack) heap allowed in use at the end          2048
#   CARGO_TARGET_DIR     as for cargo (the release binary is taken from there)
#
# What one request does: the first demo employee is updated on all three terminals: FDModify on two;
# on the old-firmware one FDModify (notSupport) -> FaceDataRecord (face exists) -> FDSetUp; every
# call with Digest auth (two HTTP exchanges) and every face downloaded by the terminal from the
# demo's photo route: about 15 HTTP exchanges inside the service process per API request.
# RATE_LIMIT_DELAY_MS=0 turns the per-terminal pacing off (with the default 500 ms, 1,000 requests
# to one terminal take 8 minutes by design).
#
# Why RSS is a coarse check: the process's peak heap during a wave is dominated by the buffers of
# the ~5,000 loopback connections open at once (both ends live in this process: service and
# simulated terminals), and glibc keeps freed memory mapped, so VmRSS stays near the highest peak
# seen and drifts up a little from wave to wave with that peak. A real leak shows as heap still in
# use after the connections are gone: that is what LOAD_HEAPTRACK=1 measures.
#
# It fails (exit 1) on any non-200 response, any load-generator error, any per-terminal result other
# than success, VmRSS growth between the measured waves beyond LOAD_MAX_GROWTH_PCT, or (heaptrack)
# heap in use at the end beyond LOAD_MAX_LEAK_KIB.
# Needs: cargo, curl, jq, ss, oha (`cargo install oha --locked` when missing, ~3 min); heaptrack
# (`apt-get install heaptrack`) for LOAD_HEAPTRACK=1. Loopback only; bounded in count
# ((LOAD_WARMUP + LOAD_WAVES) x LOAD_REQUESTS) and time (LOAD_TIMEOUT per request).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly REQUESTS="${LOAD_REQUESTS:-1000}"
readonly CONCURRENCY="${LOAD_CONCURRENCY:-1000}"
readonly WAVES="${LOAD_WAVES:-2}"
readonly WARMUP="${LOAD_WARMUP:-1}"
readonly PORT="${LOAD_PORT:-18080}"
readonly TIMEOUT="${LOAD_TIMEOUT:-60s}"
readonly OUT="${LOAD_OUT:-/tmp/hikvision-sync-load}"
readonly MAX_GROWTH_PCT="${LOAD_MAX_GROWTH_PCT:-15}"
readonly HEAPTRACK="${LOAD_HEAPTRACK:-0}"
readonly DRAIN_SECS="${LOAD_DRAIN_SECS:-70}"
readonly MAX_LEAK_KIB="${LOAD_MAX_LEAK_KIB:-2048}"
readonly TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
readonly BIN="$TARGET_DIR/release/hikvision-sync"
readonly ANGAJAT_ID="6f1d3a52-7c1e-4c55-9a0e-1d2b3c4d5e01" # Ion Popescu in config/demo.json
readonly URL="http://127.0.0.1:$PORT/api/hikvision/update-angajat-photo"
readonly BODY="{\"angajat_id\": \"$ANGAJAT_ID\"}"

log() { printf '[load-test] %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 2
}

for tool in cargo curl jq ss; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done
if [[ "$HEAPTRACK" == 1 ]]; then
  command -v heaptrack >/dev/null || die "LOAD_HEAPTRACK=1 needs heaptrack (apt-get install heaptrack)"
fi
if ! command -v oha >/dev/null; then
  log "oha is missing: cargo install oha --locked (about 3 minutes)"
  cargo install oha --locked
fi
if ss -Htln "sport = :$PORT" | grep -q .; then
  die "port $PORT is in use; set LOAD_PORT"
fi

log "building the release binary"
(cd "$REPO_ROOT" && cargo build --release --bin hikvision-sync)

mkdir -p "$OUT"
rm -f "$OUT"/wave*.json "$OUT/service.log" "$OUT/summary.md" "$OUT"/heaptrack.*
# The demo runs in an empty directory, so no developer .env (API_KEY, SUPABASE_*) leaks in.
WORKDIR="$(mktemp -d)"
readonly WORKDIR

LAUNCHER_PID=""  # the background job: the demo itself, or heaptrack's wrapper around it
SERVICE_PID=""   # the demo process
cleanup() {
  for pid in "$SERVICE_PID" "$LAUNCHER_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  [[ -n "$LAUNCHER_PID" ]] && wait "$LAUNCHER_PID" 2>/dev/null
  rm -rf "$WORKDIR"
}
trap cleanup EXIT

log "starting the demo on 127.0.0.1:$PORT (RATE_LIMIT_DELAY_MS=0, log: $OUT/service.log)"
launcher=()
[[ "$HEAPTRACK" == 1 ]] && launcher=(heaptrack -o "$OUT/heaptrack.demo")
(
  cd "$WORKDIR"
  exec env -u API_KEY -u SUPABASE_URL -u SUPABASE_SERVICE_ROLE_KEY -u SUPABASE_JWT_SECRET \
    RATE_LIMIT_DELAY_MS=0 LOG_FORMAT=json RUST_LOG="${RUST_LOG:-info}" \
    "${launcher[@]}" "$BIN" demo --bind "127.0.0.1:$PORT" --data "$REPO_ROOT/config/demo.json"
) >"$OUT/service.log" 2>&1 &
LAUNCHER_PID=$!

for _ in $(seq 1 240); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  kill -0 "$LAUNCHER_PID" 2>/dev/null || die "the demo exited; see $OUT/service.log"
  sleep 0.25
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || die "no /health after 60 s"
# The process that listens on the port (under heaptrack it is not the background job itself).
SERVICE_PID="$(ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
[[ -n "$SERVICE_PID" ]] || die "cannot find the process listening on $PORT"

mem() { # VmRSS and VmHWM of the service, in KiB
  awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {print r, h}' "/proc/$SERVICE_PID/status"
}
# Per-terminal outcomes in "terminal done" log lines from line $1 on, as {"Success": n, ...}.
outcomes_from() {
  grep -a '"terminal done"' "$OUT/service.log" | tail -n +"$1" |
    jq -s -c 'map(.fields.status // .status) | group_by(.) | map({key: .[0], value: length}) | from_entries'
}
done_lines() { grep -ac '"terminal done"' "$OUT/service.log" || true; }
wave() { # $1: oha JSON output file
  oha -n "$REQUESTS" -c "$CONCURRENCY" -t "$TIMEOUT" --no-tui --output-format json \
    -m POST -H 'content-type: application/json' -d "$BODY" "$URL" >"$1"
}

read -r RSS_IDLE _ < <(mem)
log "idle: VmRSS ${RSS_IDLE} KiB (pid $SERVICE_PID)"
log "one request first, to show the expected per-terminal results:"
curl -fsS -X POST "$URL" -H 'content-type: application/json' -d "$BODY" |
  jq -c '{summary, per_device: [.per_device[] | {device_name, status, method}]}' >&2
for w in $(seq 1 "$WARMUP"); do
  log "warm-up wave $w: $REQUESTS requests, $CONCURRENCY concurrent"
  wave "$OUT/warmup$w.json"
done
read -r RSS_WARM _ < <(mem)
log "after warm-up: VmRSS ${RSS_WARM} KiB"

FAILED=0
declare -a RSS_AFTER
{
  echo "| wave | requests | 200 | other statuses | errors | req/s | p50 ms | p90 ms | p99 ms | max ms | per-terminal results | VmRSS after (KiB) | VmHWM (KiB) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
} >"$OUT/summary.md"

for w in $(seq 1 "$WAVES"); do
  first_line=$(($(done_lines) + 1))
  log "wave $w: $REQUESTS requests, $CONCURRENCY concurrent"
  wave "$OUT/wave$w.json"
  read -r rss hwm < <(mem)
  RSS_AFTER[w]=$rss
  outcomes="$(outcomes_from "$first_line")"
  row="$(jq -r --arg wave "$w" --arg outcomes "$outcomes" --arg rss "$rss" --arg hwm "$hwm" '
    def ms: if . == null then "-" else (. * 1000 * 10 | round / 10 | tostring) end;
    (.statusCodeDistribution // {}) as $codes
    | ([$codes | to_entries[] | select(.key != "200") | "\(.key): \(.value)"] | join(", ")) as $other
    | ((.errorDistribution // {}) | to_entries | map("\(.key): \(.value)") | join(", ")) as $errors
    | "| \($wave) | \([$codes[]] | add // 0) | \($codes["200"] // 0) | \(if $other == "" then "none" else $other end) | \(if $errors == "" then "none" else $errors end) | \(.summary.requestsPerSec | . * 10 | round / 10) | \(.latencyPercentiles.p50 | ms) | \(.latencyPercentiles.p90 | ms) | \(.latencyPercentiles.p99 | ms) | \(.summary.slowest | ms) | \($outcomes) | \($rss) | \($hwm) |"
  ' "$OUT/wave$w.json")"
  echo "$row" >>"$OUT/summary.md"
  log "$row"

  ok="$(jq '.statusCodeDistribution["200"] // 0' "$OUT/wave$w.json")"
  errors="$(jq '[(.errorDistribution // {})[]] | add // 0' "$OUT/wave$w.json")"
  if [[ "$ok" != "$REQUESTS" || "$errors" != "0" ]]; then
    log "FAIL wave $w: $ok of $REQUESTS answered 200, $errors load-generator errors"
    FAILED=1
  fi
  got_success="$(jq '.Success // 0' <<<"$outcomes")"
  if [[ "$got_success" != "$((REQUESTS * 3))" ]]; then
    log "FAIL wave $w: $got_success of $((REQUESTS * 3)) per-terminal results are success: $outcomes"
    FAILED=1
  fi
done

read -r RSS_END HWM_END < <(mem)
growth=$((RSS_END - RSS_AFTER[1]))
growth_pct=$((growth * 100 / RSS_AFTER[1]))
{
  echo
  echo "VmRSS: idle ${RSS_IDLE} KiB; after $WARMUP warm-up wave(s) ${RSS_WARM} KiB; after wave 1 ${RSS_AFTER[1]} KiB; after wave $WAVES ${RSS_END} KiB (growth between the measured waves: ${growth} KiB, ${growth_pct}%); peak (VmHWM) ${HWM_END} KiB."
  echo "Per-terminal results over the whole run, warm-up included: $(outcomes_from 1)."
} >>"$OUT/summary.md"
if ((growth_pct > MAX_GROWTH_PCT)); then
  log "FAIL: VmRSS grew by $growth KiB (${growth_pct}%) between the end of wave 1 and the end of wave $WAVES (limit ${MAX_GROWTH_PCT}%)"
  FAILED=1
fi

if [[ "$HEAPTRACK" == 1 ]]; then
  log "waiting ${DRAIN_SECS} s for idle connections to close, then stopping the demo"
  sleep "$DRAIN_SECS"
  fds="$(find "/proc/$SERVICE_PID/fd" -mindepth 1 | wc -l)"
  kill -TERM "$SERVICE_PID"
  wait "$LAUNCHER_PID" 2>/dev/null || true
  SERVICE_PID=""
  LAUNCHER_PID=""
  trace="$(ls "$OUT"/heaptrack.demo.*)"
  heaptrack_print -f "$trace" -p 0 -a 0 -T 0 -l 0 -s 0 -n 0 >"$OUT/heaptrack.txt" 2>/dev/null || true
  peak="$(grep -a '^peak heap memory consumption' "$OUT/heaptrack.txt" | cut -d: -f2 | xargs)"
  leaked="$(grep -a '^total memory leaked' "$OUT/heaptrack.txt" | cut -d: -f2 | xargs)"
  leaked_kib="$(awk -v v="$leaked" 'BEGIN {
    n = v + 0; u = substr(v, length(v));
    if (u == "K") n *= 1; else if (u == "M") n *= 1024; else if (u == "G") n *= 1048576; else n /= 1024;
    printf "%d", n }')"
  echo "heaptrack: peak heap ${peak}; heap still in use after ${DRAIN_SECS} s idle (${fds} fds open) when stopped: ${leaked} (limit ${MAX_LEAK_KIB} KiB)." >>"$OUT/summary.md"
  if ((leaked_kib > MAX_LEAK_KIB)); then
    log "FAIL: ${leaked} of heap still in use at the end"
    FAILED=1
  fi
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

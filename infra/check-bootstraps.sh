#!/usr/bin/env bash
# Checks that `sam build` produced an arm64 (aarch64), position-dependent ELF `bootstrap` for every
# function in template.yaml and prints their sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
functions=$(.venv/bin/python - <<'PY'
from samcli.yamlhelper import yaml_parse
t = yaml_parse(open("template.yaml").read())
for name, r in t["Resources"].items():
    if r.get("Type") == "AWS::Serverless::Function":
        print(name)
PY
)
for fn in $functions; do
  f=".aws-sam/build/$fn/bootstrap"
  if [[ ! -f "$f" ]]; then echo "missing: $f"; status=1; continue; fi
  # ELF e_machine (bytes 18-19, little endian): 0xB7 = AArch64. e_type (bytes 16-17): 2 = a
  # position-dependent executable, as .cargo/config.toml asks for (3 would be position-independent:
  # the flags were lost, and every cold start pays for its relocations again).
  machine=$(od -An -tx1 -j18 -N2 "$f" | tr -d ' \n')
  type=$(od -An -tx1 -j16 -N2 "$f" | tr -d ' \n')
  size=$(stat -c %s "$f")
  if [[ "$machine" != "b700" ]]; then
    echo "not arm64 (e_machine=$machine): $f"; status=1
  elif [[ "$type" != "0200" ]]; then
    echo "not a position-dependent executable (e_type=$type; see .cargo/config.toml): $f"; status=1
  else
    printf 'arm64 bootstrap: %-28s %6d KiB\n' "$fn" $((size / 1024))
  fi
done
exit $status

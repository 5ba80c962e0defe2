#!/usr/bin/env bash
# Headless Chromium and ChromeDriver for the browser tests (tests/src/browser.rs). Idempotent: when
# /usr/bin/chromium and /usr/bin/chromedriver are there it only prints their versions. Otherwise it
# installs Debian's `chromium` and `chromium-driver` with apt-get (refreshing the package lists only if
# the first attempt fails), and fails loudly when it cannot.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver
PACKAGES=(chromium chromium-driver)

have_both() { [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; }

if ! have_both; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser: $CHROMIUM or $CHROMEDRIVER is missing and apt-get is not available." >&2
    echo "browser: install Chromium and a matching ChromeDriver (Debian: apt-get install ${PACKAGES[*]})" >&2
    echo "browser: so that $CHROMIUM and $CHROMEDRIVER exist, then run make test again." >&2
    exit 1
  fi
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "browser: not root and no sudo: cannot install ${PACKAGES[*]}." >&2
      echo "browser: as root run: apt-get install -y ${PACKAGES[*]}" >&2
      exit 1
    fi
  fi
  apt_install() {
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
  }
  echo "browser: installing Debian packages ${PACKAGES[*]} (first run takes a minute)"
  if ! apt_install; then
    echo "browser: install failed; refreshing the package lists (apt-get update) and trying again"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update || echo "browser: apt-get update failed" >&2
    apt_install || true
  fi
  if ! have_both; then
    echo "browser: FAILED: $CHROMIUM and $CHROMEDRIVER are still missing after apt-get install." >&2
    echo "browser: the browser tests need Debian's packages: apt-get install -y ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

# --headless --no-sandbox lets root print the version without a display; timeout guards a hang.
chromium_version=$(timeout 30 "$CHROMIUM" --headless --no-sandbox --disable-gpu --version 2>/dev/null) || {
  echo "browser: FAILED: $CHROMIUM is installed but does not run (\`$CHROMIUM --version\` failed)." >&2
  exit 1
}
chromedriver_version=$(timeout 30 "$CHROMEDRIVER" --version 2>/dev/null) || {
  echo "browser: FAILED: $CHROMEDRIVER is installed but does not run (\`$CHROMEDRIVER --version\` failed)." >&2
  exit 1
}
echo "browser: $chromium_version"
echo "browser: $chromedriver_version"

#!/usr/bin/env bash
# Installs the system packages the test suite needs: Debian's `chromium` for the report's
# headless-browser test. Idempotent and quiet: does nothing when /usr/bin/chromium exists.
# Needs root (CI runs as root); otherwise uses sudo when available.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install_system_deps: chromium is missing and this is not root (no sudo either)." >&2
    echo "  How to fix: run 'apt-get install -y --no-install-recommends chromium' as root." >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Output goes to a log that is shown only when something fails.
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install_system_deps: installing chromium failed (log above)." >&2
  exit 1
fi
echo "install_system_deps: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"

#!/usr/bin/env bash
# Installs the system packages the test suite needs: Debian's `chromium` for the report's
# headless-browser test. `make test` runs it first, so the README's two commands (`make run`,
# `make test`) are all a fresh machine needs.
#   - Quiet and quick when chromium is already there (CHROMIUM, default /usr/bin/chromium).
#   - As root it runs apt-get itself; otherwise through sudo (without a password prompt when
#     there is no terminal to type it in).
#   - When it cannot install: with CI=true it fails (the browser test must really run in CI);
#     elsewhere it says why and carries on, and the browser test skips with the same advice.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi

in_ci() { [ "${CI:-}" = "true" ]; }

give_up() {
  echo "install_system_deps: $1" >&2
  echo "  How to fix: run 'sudo apt-get install -y --no-install-recommends chromium'" \
       "(or scripts/install_system_deps.sh as root); without it the report's browser test skips." >&2
  if in_ci; then
    exit 1
  fi
  exit 0
}

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    give_up "chromium is missing and this is not root (no sudo either)."
  fi
  if [ -t 0 ]; then
    SUDO=(sudo)
  else
    SUDO=(sudo -n)  # no terminal: fail at once instead of waiting for a password
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  give_up "chromium is missing and this system has no apt-get."
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "install_system_deps: installing chromium for the report's browser test${SUDO:+ (${SUDO[*]})}" >&2
# Output goes to a log that is shown only when something fails.
if ! { "${SUDO[@]}" apt-get update -qq && \
       "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  give_up "installing chromium failed (log above)."
fi
if [ ! -x "$CHROMIUM" ]; then
  give_up "apt-get finished but $CHROMIUM is still missing."
fi
echo "install_system_deps: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"

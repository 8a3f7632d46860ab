#!/usr/bin/env bash
# Install what the project's own test suite needs beyond .venv: a Chromium and its driver
# for the leaderboard page's browser tests (tests/test_leaderboard_page.py).  .ci/run runs
# it; candidates never need it (scripts/install.sh is enough to practise).
#
#   bash scripts/install-test-tools.sh
#
# Cheap when done: it does nothing if a Chromium (or Chrome) and a chromedriver are
# already there (as on GitHub's Ubuntu runners, which ship Chrome with
# $CHROMEWEBDRIVER).  Otherwise, on Debian or Ubuntu as root (or with password-less sudo),
# it installs Debian's `chromium` and `chromium-driver` with apt.  Elsewhere it says what
# is missing and exits 0: the browser tests then skip with that reason (outside CI).
set -euo pipefail

have_browser() {
  { command -v chromium || command -v chromium-browser || command -v google-chrome; } \
    > /dev/null 2>&1
}
have_driver() {
  command -v chromedriver > /dev/null 2>&1 ||
    { [ -n "${CHROMEWEBDRIVER:-}" ] && [ -x "$CHROMEWEBDRIVER/chromedriver" ]; }
}

if have_browser && have_driver; then
  echo "install-test-tools.sh: Chromium and chromedriver are there"
  exit 0
fi
if ! command -v apt-get > /dev/null 2>&1; then
  echo "install-test-tools.sh: no apt-get here: install Chromium and chromedriver yourself;" \
    "the browser tests skip without them" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  sudo=()
elif sudo -n true 2> /dev/null; then
  sudo=(sudo -n)
else
  echo "install-test-tools.sh: not root and no password-less sudo: run as root to install" \
    "Chromium; the browser tests skip without it" >&2
  exit 0
fi
echo "install-test-tools.sh: installing Debian's chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver > /dev/null
have_browser && have_driver
echo "install-test-tools.sh: $(chromium --version 2> /dev/null || echo Chromium) ready"

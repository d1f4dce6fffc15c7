#!/bin/sh
# Install what the test suite needs from Debian when it is missing.
# Idempotent: does nothing when everything is there; `apt-get update` runs only
# when something has to be installed. Needs root (as CI runs it) for installs.
set -eu

missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    # Not root: say so and go on; the tests needing them skip (and fail under CI=true).
    echo "test-deps: missing:$missing (run scripts/test-deps.sh as root to install)" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

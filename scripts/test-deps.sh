#!/bin/sh
# Install what the test suite needs when it is missing. Idempotent: does nothing
# when everything is there; `apt-get update` runs only when something has to be
# installed. Needs root (as CI runs it) for installs.
#
# The real Kubernetes API server (kube-apiserver v1.20.2 + etcd, for the tests
# named test_real_apiserver*) is built under CI=true or when EDGEWAY_TEST_REAL_K8S=1
# (EDGEWAY_* variables are edgeway's static configuration; EDGEWAY_TEST_* are reserved),
# by ../shared/tools/k8s/build-apiserver.sh (path relative to the repo root; see
# BUILD.md there): about 5 minutes on 2 cores the first time on a machine, nothing
# when /opt/k8s/bin/kube-apiserver is already there.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
k8s_tools="$root/../shared/tools/k8s"
want_k8s=""
if [ "${CI:-}" = "true" ] || [ "${EDGEWAY_TEST_REAL_K8S:-}" = "1" ]; then
    want_k8s=1
fi

missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
# Debian's chromium: the dashboard's real-browser test (tests/test_dashboard.py)
# runs it headless; it is a failure under CI=true when it is missing.
[ -x /usr/bin/chromium ] || missing="$missing chromium"
# Debian's pebble (pebble + pebble-challtestsrv): the ACME CA of tests/test_acme.py;
# a failure under CI=true when it is missing.
command -v pebble >/dev/null 2>&1 || missing="$missing pebble"
# Debian's kubectl (v1.20.2, the server's version) when no kubectl is installed.
if [ -n "$want_k8s" ] && ! command -v kubectl >/dev/null 2>&1; then
    missing="$missing kubernetes-client"
fi
# etcd: build-apiserver.sh installs it too, but only when it builds.
if [ -n "$want_k8s" ] && ! command -v etcd >/dev/null 2>&1; then
    missing="$missing etcd-server"
fi

if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        # Not root: say so and go on; the tests needing them skip (and fail under CI=true).
        echo "test-deps: missing:$missing (run scripts/test-deps.sh as root to install)" >&2
    else
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing
    fi
fi

[ -n "$want_k8s" ] || exit 0

if [ ! -f "$k8s_tools/build-apiserver.sh" ] || [ ! -f "$k8s_tools/start-apiserver.sh" ]; then
    echo "test-deps: $k8s_tools/build-apiserver.sh and start-apiserver.sh are missing:" >&2
    echo "test-deps: the real Kubernetes API server cannot be built (shared/ must sit beside the repo)" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "test-deps: not root: kube-apiserver is not built (run scripts/test-deps.sh as root)" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi

# The script exits at once when the binary is there; the log keeps CI's output short.
log="${TMPDIR:-/tmp}/edgeway-build-apiserver.log"
start=$(date +%s)
echo "test-deps: kube-apiserver: ensuring it is built (about 5 minutes once per machine; log: $log)"
if ! bash "$k8s_tools/build-apiserver.sh" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "test-deps: building kube-apiserver failed (full log: $log)" >&2
    exit 1
fi
echo "test-deps: kube-apiserver: $(tail -1 "$log") ($(( $(date +%s) - start )) s)"

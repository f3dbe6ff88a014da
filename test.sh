#!/usr/bin/env bash
# Install everything the tests need, then run them all: ruff, mypy and pytest.
# Run as root on Linux: the namespace and keepalived tests need it (CI runs exactly this).
# Extra arguments go to pytest, e.g. ./test.sh -m "not cluster" or ./test.sh tests/unit
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests drive for real; installed only when missing.
declare -A pkg=([ip]=iproute2 [keepalived]=keepalived [setpriv]=util-linux [unshare]=util-linux
    [cron]=cron [systemd-analyze]=systemd [nsenter]=util-linux [promtool]=prometheus
    [prometheus-node-exporter]=prometheus-node-exporter [etcd]=etcd-server [etcdctl]=etcd-client
    [openssl]=openssl [faketime]=faketime)
missing=()
for cmd in "${!pkg[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 \
        || missing+=("${pkg[$cmd]}")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if ((${#missing[@]})); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test.sh: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "test.sh: missing ${missing[*]} (not root or no apt-get): those tests will skip" >&2
    fi
fi
export PATH="$PATH:/usr/sbin:/sbin"

# A regular (not editable) install: the tests run the console script as users get it.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q '.[test]'

.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"

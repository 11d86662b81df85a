#!/usr/bin/env bash
# Install the Debian packages the test suite needs (Redis, PostgreSQL server, Chromium, strace) if missing.
# Idempotent: when everything is present it changes nothing and never touches the network.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "setup-system: need root or sudo to install packages" >&2
    exit 1
fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# Tests run their own clusters with initdb/pg_ctl; only the server binaries matter.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# Without recommends Chromium has no fonts and browser tests would render empty boxes.
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-liberation)
# Media tests run inside a loopback-only network namespace (unshare -n, ip link set lo up).
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
# Durability tests watch a server's fsync/rename/write calls (tests/support/syscalls.py).
command -v strace >/dev/null 2>&1 || missing+=(strace)
# The live stream's cache tests and bench start nginx on loopback with docs/nginx-live-cache.conf.
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-system: redis-server, postgresql, chromium, unshare, ip, strace and nginx already installed"
    exit 0
fi

echo "setup-system: installing ${missing[*]}"
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y)
"${apt[@]}" update
# Packages must not start services here (nginx would take port 80): tests start their own on free ports.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${as_root[@]}" chmod +x /usr/sbin/policy-rc.d
    trap '"${as_root[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${apt[@]}" install --no-install-recommends "${missing[@]}"
echo "setup-system: done"

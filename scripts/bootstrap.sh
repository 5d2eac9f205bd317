#!/usr/bin/env bash
# Idempotent bootstrap for a fresh Debian machine (root, Node installed) or a dev box.
# Installs the npm dependencies and the Debian packages that the local stack and the
# tests need. Runs as `prestart` and `pretest`; a second run does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the stack and its tests use, as binary:package (a package is
# installed when its binary is missing).
#   redis-server            the buffer (tests also start their own, for crashes and restarts)
#   prometheus, promtool    local monitoring and `promtool check/test rules`
#   prometheus-alertmanager alert routing (with amtool)
#   prometheus-blackbox-exporter  the public probe (monitoring tests, its config checked)
#   caddy                   TLS reverse proxy (tests use its internal CA on loopback)
#   sshd, restic, docker-compose  deploy tests: a loopback SSH host, real backups, compose validation
#   sqlite3, curl           backup tests (a Grafana-like SQLite file) and the deploy health gate on the test host
#   dockerd, debootstrap    test/compose-stack.test.ts: deploy/compose.yaml run on a real engine (docker.io),
#                           its images built from a debootstrapped Debian (deploy/testing/images.ts)
DEBIAN_PACKAGES=(
  redis-server:redis-server
  prometheus:prometheus
  promtool:prometheus
  prometheus-alertmanager:prometheus-alertmanager
  amtool:prometheus-alertmanager
  prometheus-blackbox-exporter:prometheus-blackbox-exporter
  caddy:caddy
  /usr/sbin/sshd:openssh-server
  restic:restic
  docker-compose:docker-compose
  sqlite3:sqlite3
  curl:curl
  dockerd:docker.io
  debootstrap:debootstrap
)

missing=()
for entry in "${DEBIAN_PACKAGES[@]}"; do
  binary="${entry%%:*}"; package="${entry#*:}"
  if ! command -v "$binary" >/dev/null 2>&1; then
    [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.bootstrap-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

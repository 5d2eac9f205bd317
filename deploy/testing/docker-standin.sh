#!/bin/sh
# A STAND-IN for the `docker` CLI on the loopback test host of test/deploy-ssh.test.ts
# (no container engine runs on the test machines). It is put first on the remote PATH
# by the test's sshd (SetEnv PATH=...). It is not Docker: it records its calls and
# pretends to run a release.
#
#   $STANDIN_STATE/calls.log       one line per call: the arguments, space-separated
#   $STANDIN_STATE/running         the release (BPE_RELEASE of --env-file) last `compose up`
#   $STANDIN_STATE/www/_ready/<s>  "ready" files for each service of $STANDIN_SERVICES, which
#                                  a real Caddy serves over HTTPS: the deploy's health gate
#                                  reads them through Caddy as it reads /readyz in production
#
# Told to fail with files in $STANDIN_STATE holding a release sha or "*":
#   fail-gate   `compose up` of that release succeeds but its services never become ready
#   fail-up     `compose up` of that release exits 1, as `up --wait` does for an unhealthy container
#   block-up    `compose up` of that release touches up-blocked and waits for up-unblock
#               (lets a test hold a deploy in flight, to try a concurrent one)
set -eu
state=${STANDIN_STATE:?STANDIN_STATE is not set}
mkdir -p "$state"
echo "$*" >> "$state/calls.log"

matches() { # $1 = control file, $2 = release
  [ -f "$state/$1" ] || return 1
  want=$(cat "$state/$1")
  [ "$want" = "*" ] || [ "$want" = "$2" ]
}

[ "${1:-}" = compose ] || exit 0
shift
env_file=''
while [ $# -gt 0 ]; do
  case "$1" in
    --project-name | --file | -f | -p) shift 2 ;;
    --env-file) env_file=$2; shift 2 ;;
    *) break ;;
  esac
done

case "${1:-}" in
  version)
    echo "Docker Compose version v2.29.7 (stand-in)"
    ;;
  up)
    [ -n "$env_file" ] || { echo "stand-in: compose up without --env-file" >&2; exit 2; }
    release=$(sed -n 's/^BPE_RELEASE=//p' "$env_file")
    if matches block-up "$release"; then
      touch "$state/up-blocked"
      while [ ! -f "$state/up-unblock" ]; do sleep 0.1; done
    fi
    echo "$release" > "$state/running"
    rm -rf "$state/www/_ready"
    mkdir -p "$state/www/_ready"
    if matches fail-up "$release"; then
      echo "container ${STANDIN_PROJECT:-app}-api-1 is unhealthy (stand-in told to fail)" >&2
      exit 1
    fi
    if ! matches fail-gate "$release"; then
      for service in ${STANDIN_SERVICES:-ingester writer api}; do echo ready > "$state/www/_ready/$service"; done
    fi
    ;;
  ps)
    echo "stand-in: running ${STANDIN_PROJECT:-app} release $(cat "$state/running" 2>/dev/null || echo none)"
    ;;
esac

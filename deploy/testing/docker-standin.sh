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
#
# For test/backup-runbook.test.ts, where the "host" is the test machine itself, the
# commands that reach the host's data run locally (backup.sh and the restore procedure
# of runbooks/backup-restore.md use them):
#   volume inspect --format '{{ .Mountpoint }}' NAME
#                        prints $STANDIN_VOLUMES/NAME/_data (created if missing)
#   inspect --format '{{ .Config.Image }}' CONTAINER
#                        prints bpe-app:standin (the image is this checkout, see `run`)
#   exec [-i] [-t] [-e NAME[=VALUE]]... CONTAINER CMD...
#                        runs $STANDIN_STATE/containers/CONTAINER CMD... (a script the test
#                        writes: how CMD reaches that container's process); fails without it
#   run [--rm] [--network N] [--user U] [-v SRC:DST[:ro]]... IMAGE CMD...
#                        runs CMD in $STANDIN_APP_DIR (the app image's files: the checkout),
#                        DST replaced by SRC in its arguments, `node X.js` as
#                        `node --import tsx X.ts` where the checkout has only the .ts
#   compose ... stop [SERVICE...]   runs $STANDIN_STATE/services/SERVICE/stop, if the test
#                        wrote one, for each service named (every one with a hook if none)
#   compose ... up [SERVICE...]     after the above, runs services/SERVICE/start for each
#                        service stopped that way
# Any other docker command exits 0 when STANDIN_VOLUMES is unset (the deploy test), 2 when
# it is set: a runbook command the stand-in does not know must fail its test.
set -eu
state=${STANDIN_STATE:?STANDIN_STATE is not set}
mkdir -p "$state"
echo "$*" >> "$state/calls.log"

matches() { # $1 = control file, $2 = release
  [ -f "$state/$1" ] || return 1
  want=$(cat "$state/$1")
  [ "$want" = "*" ] || [ "$want" = "$2" ]
}

case "${1:-}" in
  volume)
    [ "${2:-}" = inspect ] || { echo "stand-in: docker volume ${2:-} is not stood in" >&2; exit 2; }
    eval "name=\${$#}"
    dir="${STANDIN_VOLUMES:?STANDIN_VOLUMES is not set}/$name/_data"
    mkdir -p "$dir"
    echo "$dir"
    exit 0
    ;;
  inspect)
    echo "bpe-app:standin"
    exit 0
    ;;
  exec)
    shift
    while [ $# -gt 0 ]; do
      case "$1" in
        -e | --env)
          case "$2" in *=*) export "$2" ;; esac
          shift 2
          ;;
        -u | --user | -w | --workdir) shift 2 ;;
        -*) shift ;;
        *) break ;;
      esac
    done
    container=$1
    shift
    [ -x "$state/containers/$container" ] || { echo "stand-in: no container $container" >&2; exit 1; }
    exec "$state/containers/$container" "$@"
    ;;
  run)
    shift
    mounts=''
    while [ $# -gt 0 ]; do
      case "$1" in
        -v | --volume)
          mounts="$mounts
$2"
          shift 2
          ;;
        --network | --user | -u | -e | --env | --name | -w | --workdir | --entrypoint) shift 2 ;;
        -*) shift ;;
        *) break ;;
      esac
    done
    shift # the image: this checkout
    # Each argument under a mount's target, moved to its source on this machine.
    n=$#
    while [ "$n" -gt 0 ]; do
      arg=$1
      shift
      for mount in $mounts; do
        src=${mount%%:*}
        rest=${mount#*:}
        dst=${rest%%:*}
        case "$arg" in "$dst" | "$dst"/*) arg="$src${arg#"$dst"}" ;; esac
      done
      set -- "$@" "$arg"
      n=$((n - 1))
    done
    cd "${STANDIN_APP_DIR:?STANDIN_APP_DIR is not set}"
    if [ "$1" = node ] && [ ! -e "$2" ] && [ -e "${2%.js}.ts" ]; then
      script=${2%.js}.ts
      shift 2
      exec node --import tsx "$script" "$@"
    fi
    exec "$@"
    ;;
  compose) ;;
  *)
    [ -z "${STANDIN_VOLUMES:-}" ] || { echo "stand-in: docker ${1:-} is not stood in" >&2; exit 2; }
    exit 0
    ;;
esac
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
  stop)
    shift
    [ $# -gt 0 ] || set -- $(ls "$state/services" 2>/dev/null)
    for service in "$@"; do
      if [ -x "$state/services/$service/stop" ] && [ ! -e "$state/services/$service/stopped" ]; then
        "$state/services/$service/stop"
        touch "$state/services/$service/stopped"
      fi
    done
    ;;
  up)
    [ -n "$env_file" ] || { echo "stand-in: compose up without --env-file" >&2; exit 2; }
    shift
    services=''
    for arg in "$@"; do case "$arg" in -*) ;; *) services="$services $arg" ;; esac; done
    [ -n "$services" ] || services=$(ls "$state/services" 2>/dev/null || true)
    for service in $services; do
      if [ -e "$state/services/$service/stopped" ]; then
        "$state/services/$service/start"
        rm "$state/services/$service/stopped"
      fi
    done
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

#!/bin/sh
# STAND-INS for the host's `ssh`, `sudo`, `systemctl` and `journalctl`, for
# test/backup-runbook.test.ts, which runs the commands of runbooks/backup-restore.md on
# the test machine: the "host" is that machine, in a temporary directory, and no init
# system runs there. One script, installed under each of those names (a symlink); what
# it does depends on the name it is called by. With `docker` (docker-standin.sh) first
# on PATH too.
#
#   ssh [OPTIONS] DESTINATION [COMMAND...]
#       COMMAND run here by bash, as sshd runs it with the login shell, in the host's
#       environment: PATH=$STANDIN_HOST_PATH, HOME=$STANDIN_HOST_HOME and the STANDIN_*
#       settings, nothing else of the caller's (what is exported on the operator's machine
#       is not on the host). Without COMMAND (an interactive login) it does nothing: the
#       lines a runbook gives after `ssh deploy@HOST` are typed into the remote shell, and
#       the test runs them in that same environment.
#   sudo [-E | --preserve-env] [-n] COMMAND...
#       COMMAND as the caller (root on the test machines). Without --preserve-env the
#       environment is reset as sudo's env_reset does: PATH, HOME, TERM and the STANDIN_*
#       settings are kept, nothing else.
#   systemctl start UNIT
#       runs a Type=oneshot unit of $STANDIN_UNITS as systemd does: ExecStart (executed
#       directly, so it must be executable) with stdin from /dev/null and an environment of
#       its own (PATH=$STANDIN_HOST_PATH, the STANDIN_* settings, $STANDIN_SERVICE_ENV
#       (NAME=VALUE lines), Environment=, EnvironmentFile=); output appended to the unit's
#       journal; exits 1 with systemd's message when the unit fails.
#   systemctl list-timers TIMER
#       the timer if $STANDIN_UNITS has it, with the time its service last started.
#   journalctl -u UNIT [OPTIONS]
#       the unit's journal (the other options, --since included, are ignored).
#
# Anything else fails (exit 2): a runbook command the stand-in does not know must fail
# its test rather than pass unexamined.
set -eu
state=${STANDIN_STATE:?STANDIN_STATE is not set}
me=$(basename "$0")
mkdir -p "$state/journal"
echo "$me $*" >> "$state/calls.log"

unsupported() {
  echo "stand-in: $me $* is not stood in" >&2
  exit 2
}

# Unsets every exported variable but the STANDIN_* settings and the names given.
clean_env() {
  for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
    case " $* " in *" $name "*) continue ;; esac
    case "$name" in STANDIN_*) ;; *) unset "$name" ;; esac
  done
}

journal() { printf '%s %s[%s]: %s\n' "$(date '+%b %d %H:%M:%S')" "$1" "$$" "$2" >> "$state/journal/$1"; }

case "$me" in
  ssh)
    while [ $# -gt 0 ]; do
      case "$1" in
        -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) break ;;
      esac
    done
    [ $# -gt 0 ] || unsupported "(no destination)"
    shift
    [ $# -gt 0 ] || exit 0
    command=$*
    cd "$STANDIN_HOST_HOME"
    clean_env
    export PATH="$STANDIN_HOST_PATH" HOME="$STANDIN_HOST_HOME" USER=deploy LOGNAME=deploy SHELL=/bin/bash
    exec bash -c "$command"
    ;;

  sudo)
    preserve=''
    while [ $# -gt 0 ]; do
      case "$1" in
        -E | --preserve-env) preserve=1; shift ;;
        -n | --non-interactive) shift ;;
        -u | --user)
          [ "$2" = root ] || unsupported "-u $2"
          shift 2
          ;;
        -*) unsupported "$1" ;;
        *) break ;;
      esac
    done
    [ $# -gt 0 ] || unsupported "(no command)"
    [ -z "$preserve" ] || exec "$@"
    clean_env PATH HOME TERM
    export USER=root LOGNAME=root
    exec "$@"
    ;;

  systemctl)
    case "${1:-}" in
      start)
        unit=$2
        case "$unit" in *.*) ;; *) unit=$unit.service ;; esac
        file=${STANDIN_UNITS:?STANDIN_UNITS is not set}/$unit
        [ -f "$file" ] || { echo "Failed to start $unit: Unit $unit not found." >&2; exit 5; }
        grep -qx 'Type=oneshot' "$file" || unsupported "start $unit (not Type=oneshot)"
        exec_start=$(sed -n 's/^ExecStart=//p' "$file")
        date '+%a %Y-%m-%d %H:%M:%S %Z' > "$state/journal/$unit.last"
        journal "$unit" "Starting $(sed -n 's/^Description=//p' "$file")..."
        status=0
        (
          clean_env
          export PATH="$STANDIN_HOST_PATH"
          # The unit's environment, in systemd's order: Environment=, then EnvironmentFile=.
          {
            printf '%s\n' "${STANDIN_SERVICE_ENV:-}"
            sed -n 's/^Environment=//p' "$file"
            for env_file in $(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$file"); do cat "$env_file"; done
          } > "$state/unit-env"
          while IFS= read -r line; do
            case "$line" in '' | '#'* | ';'*) continue ;; esac
            value=${line#*=}
            case "$value" in \"*\" | \'*\') value=${value#?} value=${value%?} ;; esac
            export "${line%%=*}=$value"
          done < "$state/unit-env"
          rm "$state/unit-env"
          # shellcheck disable=SC2086 # ExecStart is a command line
          exec $exec_start
        ) < /dev/null >> "$state/journal/$unit" 2>&1 || status=$?
        if [ "$status" -eq 0 ]; then
          journal "$unit" "$unit: Deactivated successfully."
          journal "$unit" "Finished $(sed -n 's/^Description=//p' "$file")."
        else
          journal "$unit" "$unit: Main process exited, code=exited, status=$status/FAILURE"
          journal "$unit" "$unit: Failed with result 'exit-code'."
          echo "Job for $unit failed because the control process exited with error code." >&2
          echo "See \"systemctl status $unit\" and \"journalctl -xeu $unit\" for details." >&2
          exit 1
        fi
        ;;
      list-timers)
        timer=${2:-}
        echo "NEXT LEFT LAST PASSED UNIT ACTIVATES"
        if [ -n "$timer" ] && [ -f "${STANDIN_UNITS:?}/$timer" ]; then
          service=${timer%.timer}.service
          echo "n/a n/a $(cat "$state/journal/$service.last" 2>/dev/null || echo n/a) - $timer $service"
          echo
          echo "1 timers listed."
        else
          echo
          echo "0 timers listed."
        fi
        ;;
      *) unsupported "$@" ;;
    esac
    ;;

  journalctl)
    unit=''
    while [ $# -gt 0 ]; do
      case "$1" in
        -u | --unit) unit=$2; shift 2 ;;
        --since | --until | -n | --lines) shift 2 ;;
        --no-pager | -x | -e) shift ;;
        *) unsupported "$1" ;;
      esac
    done
    [ -n "$unit" ] || unsupported "(no -u UNIT)"
    case "$unit" in *.*) ;; *) unit=$unit.service ;; esac
    if [ -s "$state/journal/$unit" ]; then cat "$state/journal/$unit"; else echo "-- No entries --"; fi
    ;;

  *) unsupported ;;
esac

#!/usr/bin/env bash
# Daily backup of the host, run by bpe-backup.timer (deploy/backup/*.service|timer) as root.
#
#   1. Redis: BGSAVE, wait until LASTSAVE changes (the RDB is written to a temporary
#      name and renamed, so once LASTSAVE moved the file is whole), copy dump.rdb.
#   2. Parquet: a hard-link copy of the store (instant, no extra space; files are
#      immutable once renamed into place), so the snapshot and its manifest see the
#      same files while the writer goes on.
#   3. The manifest: row count of every table in that copy, the Redis key count, the
#      release: what the restore drill (restore-drill.ts) checks a restore against.
#   4. Grafana's database (sqlite3 .backup when sqlite3 is there) and the audit files.
#   5. restic backup (encrypted, incremental), forget --keep-daily, prune, check.
#   6. On success only: bpe_backup_last_success_timestamp_seconds for node-exporter's
#      textfile collector (the backup-missing alert watches it).
#
# Configuration (environment; the unit reads <app>/secrets/backup.env):
#   RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE (or RESTIC_PASSWORD) and the backend's
#   credentials                              required, read by restic itself
#   BPE_APP_DIR        /opt/bluesky-post-explorer
#   BPE_PROJECT        compose project name (bluesky-post-explorer)
#   BPE_DATA_ROOT      mount point of the data volume (/srv/bluesky-post-explorer-data)
#   BPE_STAGING_DIR    where the snapshot is assembled; must be on the same file system
#                      as the Parquet volume for hard links ($BPE_DATA_ROOT/backup-staging)
#   BPE_TEXTFILE_DIR   node-exporter textfile directory (/var/lib/node-exporter/textfile)
#   BPE_KEEP_DAILY     daily snapshots kept (7)
#   BPE_CHECK_SUBSET   share of the data `restic check` reads back (5%)
#   BPE_BACKUP_TIME    snapshot time for restic (tests simulate days with it); default now
#   Where the data is (defaults: the Docker volumes and containers of the project):
#   BPE_PARQUET_DIR, BPE_REDIS_RDB, BPE_GRAFANA_DB, BPE_AUDIT_PATHS (space-separated)
#   BPE_REDIS_CLI      command that runs redis-cli (default: docker exec into the redis
#                      container; BPE_REDIS_USER and BPE_REDIS_PASSWORD_FILE add credentials)
#   BPE_MANIFEST_CMD   command that prints the manifest tables for a Parquet directory
#                      given as its last argument (default: the app image's manifest.js)
set -euo pipefail

BPE_APP_DIR=${BPE_APP_DIR:-/opt/bluesky-post-explorer}
BPE_PROJECT=${BPE_PROJECT:-bluesky-post-explorer}
BPE_DATA_ROOT=${BPE_DATA_ROOT:-/srv/bluesky-post-explorer-data}
BPE_STAGING_DIR=${BPE_STAGING_DIR:-$BPE_DATA_ROOT/backup-staging}
BPE_TEXTFILE_DIR=${BPE_TEXTFILE_DIR:-/var/lib/node-exporter/textfile}
BPE_KEEP_DAILY=${BPE_KEEP_DAILY:-7}
BPE_CHECK_SUBSET=${BPE_CHECK_SUBSET:-5%}
BPE_BGSAVE_TIMEOUT=${BPE_BGSAVE_TIMEOUT:-900}
TAG=bpe

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

volume_dir() { docker volume inspect --format '{{ .Mountpoint }}' "${BPE_PROJECT}_$1"; }

redis_cli() {
  if [ -n "${BPE_REDIS_CLI:-}" ]; then
    # shellcheck disable=SC2086 # a command line, split on purpose
    $BPE_REDIS_CLI "$@"
    return
  fi
  local args=(exec -i)
  if [ -n "${BPE_REDIS_PASSWORD_FILE:-}" ]; then
    # `-e NAME` without a value passes it from this environment: the password never
    # appears on a command line.
    REDISCLI_AUTH=$(cat "$BPE_REDIS_PASSWORD_FILE")
    export REDISCLI_AUTH
    args+=(-e REDISCLI_AUTH)
  fi
  docker "${args[@]}" "${BPE_PROJECT}-redis-1" redis-cli ${BPE_REDIS_USER:+--user "$BPE_REDIS_USER"} "$@"
}

write_manifest_tables() {
  local parquet_dir=$1
  if [ -n "${BPE_MANIFEST_CMD:-}" ]; then
    # shellcheck disable=SC2086
    $BPE_MANIFEST_CMD "$parquet_dir"
    return
  fi
  # The writer's image has the compiled manifest tool (deploy/backup/manifest.ts).
  local image
  image=$(docker inspect --format '{{ .Config.Image }}' "${BPE_PROJECT}-writer-1")
  docker run --rm --network none --user 0 -v "$parquet_dir:/data:ro" "$image" node deploy/backup/manifest.js /data
}

started=$(date +%s)
command -v restic >/dev/null || fail "restic is not installed"
[ -n "${RESTIC_REPOSITORY:-}" ] || fail "RESTIC_REPOSITORY is not set (see $BPE_APP_DIR/secrets/backup.env)"

BPE_PARQUET_DIR=${BPE_PARQUET_DIR:-$(volume_dir parquet)}
BPE_REDIS_RDB=${BPE_REDIS_RDB:-$(volume_dir redis)/dump.rdb}
BPE_GRAFANA_DB=${BPE_GRAFANA_DB:-$(volume_dir grafana)/grafana.db}
BPE_AUDIT_PATHS=${BPE_AUDIT_PATHS:-$BPE_APP_DIR/deploys.log $BPE_APP_DIR/audit}

mkdir -p "$BPE_STAGING_DIR"
chmod 700 "$BPE_STAGING_DIR"
rm -rf "${BPE_STAGING_DIR:?}/redis" "${BPE_STAGING_DIR:?}/parquet" "${BPE_STAGING_DIR:?}/grafana" "${BPE_STAGING_DIR:?}/manifest.json"
mkdir -p "$BPE_STAGING_DIR/redis" "$BPE_STAGING_DIR/grafana"

# --- 1. Redis snapshot --------------------------------------------------------------------
dbsize=$(redis_cli DBSIZE)
before=$(redis_cli LASTSAVE)
# LASTSAVE counts seconds: a save finishing within the second of the last one would not
# move it. Start in a new second.
while [ "$(date +%s)" -le "$before" ]; do sleep 0.2; done
reply=$(redis_cli BGSAVE SCHEDULE)
case "$reply" in
  *"Background saving started"* | *"Background saving scheduled"*) ;;
  *) fail "BGSAVE refused: $reply" ;;
esac
deadline=$(($(date +%s) + BPE_BGSAVE_TIMEOUT))
until [ "$(redis_cli LASTSAVE)" != "$before" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "BGSAVE did not finish within ${BPE_BGSAVE_TIMEOUT}s"
  sleep 0.2
done
redis_cli INFO persistence | tr -d '\r' | grep -qx 'rdb_last_bgsave_status:ok' || fail "BGSAVE failed (INFO persistence: rdb_last_bgsave_status)"
cp "$BPE_REDIS_RDB" "$BPE_STAGING_DIR/redis/dump.rdb"
log "redis snapshot copied ($dbsize keys)"

# --- 2. Parquet, as hard links --------------------------------------------------------
if ! cp -al "$BPE_PARQUET_DIR" "$BPE_STAGING_DIR/parquet" 2>/dev/null; then
  # Not the same file system: a full copy (slower, same result).
  rm -rf "${BPE_STAGING_DIR:?}/parquet"
  cp -a "$BPE_PARQUET_DIR" "$BPE_STAGING_DIR/parquet"
fi
# Files still being written carry the .tmp suffix: not part of the store yet.
find "$BPE_STAGING_DIR/parquet" -name '*.tmp' -type f -delete

# --- 3. Manifest -----------------------------------------------------------------------
tables=$(write_manifest_tables "$BPE_STAGING_DIR/parquet")
release=$(readlink "$BPE_APP_DIR/current" 2>/dev/null || echo unknown)
printf '{"created_at":"%s","host":"%s","release":"%s","redis":{"dbsize":%s,"lastsave_before":%s},"tables":%s}\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(hostname)" "${release##*/}" "$dbsize" "$before" "$tables" > "$BPE_STAGING_DIR/manifest.json"

# --- 4. Grafana and audit files ---------------------------------------------------------
if [ -f "$BPE_GRAFANA_DB" ]; then
  if command -v sqlite3 >/dev/null; then
    sqlite3 "$BPE_GRAFANA_DB" ".backup '$BPE_STAGING_DIR/grafana/grafana.db'"
  else
    cp "$BPE_GRAFANA_DB" "$BPE_STAGING_DIR/grafana/grafana.db"
  fi
else
  log "no Grafana database at $BPE_GRAFANA_DB (not started yet?)"
fi
audit=()
for path in $BPE_AUDIT_PATHS; do [ -e "$path" ] && audit+=("$path"); done

# --- 5. restic ---------------------------------------------------------------------------
if ! restic cat config >/dev/null 2>&1; then
  log "initialising the restic repository"
  restic init
fi
# --ignore-ctime: hard links change every file's ctime, not its content or mtime.
restic backup --quiet --tag "$TAG" --host "${BPE_BACKUP_HOST:-$(hostname)}" --ignore-ctime \
  ${BPE_BACKUP_TIME:+--time "$BPE_BACKUP_TIME"} "$BPE_STAGING_DIR" "${audit[@]}"
restic forget --quiet --tag "$TAG" --keep-daily "$BPE_KEEP_DAILY" --prune
restic check --quiet --read-data-subset "$BPE_CHECK_SUBSET"

# --- 6. Success, for the backup-missing alert -------------------------------------------
finished=$(date +%s)
mkdir -p "$BPE_TEXTFILE_DIR"
tmp=$(mktemp "$BPE_TEXTFILE_DIR/.bpe_backup.prom.XXXXXX")
cat > "$tmp" <<METRICS
# HELP bpe_backup_last_success_timestamp_seconds Unix time at which the last backup (snapshot, forget, prune, check) succeeded.
# TYPE bpe_backup_last_success_timestamp_seconds gauge
bpe_backup_last_success_timestamp_seconds $finished
# HELP bpe_backup_last_duration_seconds How long the last successful backup took.
# TYPE bpe_backup_last_duration_seconds gauge
bpe_backup_last_duration_seconds $((finished - started))
METRICS
chmod 644 "$tmp"
mv -f "$tmp" "$BPE_TEXTFILE_DIR/bpe_backup.prom"
log "done in $((finished - started))s"

#!/usr/bin/env bash
# `npm test`: lint (tsc --noEmit, ESLint) and the vitest suite, run side by side.
#
# The suite's first two minutes are mostly waiting (Prometheus and Alertmanager detecting
# killed services on production intervals, Docker Compose starting containers), so lint's
# half-minute of CPU fits in beside them instead of running before them. Lint's output is
# kept and printed after the suite, and either failing fails the whole command.
# Arguments go to vitest (e.g. `npm test -- test/api.test.ts`).
set -uo pipefail
cd "$(dirname "$0")/.."

lint_log=$(mktemp)
lint_pid=
# A stopped suite (Ctrl-C) stops lint too: a background job of a script ignores SIGINT.
trap '[ -n "$lint_pid" ] && kill "$lint_pid" 2>/dev/null; rm -f "$lint_log"' EXIT

npm run --silent lint >"$lint_log" 2>&1 &
lint_pid=$!

npx vitest run "$@"
suite=$?

wait "$lint_pid"
lint=$?
lint_pid=

if [ "$lint" -ne 0 ]; then
  echo
  echo "npm test: lint failed (exit $lint):"
  cat "$lint_log"
else
  echo "npm test: lint passed (tsc --noEmit, eslint)"
fi
[ "$suite" -eq 0 ] && [ "$lint" -eq 0 ]

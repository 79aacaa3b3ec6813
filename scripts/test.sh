#!/usr/bin/env bash
# Set up (first run only), then lint, type-check and run the whole test suite.
source "$(dirname "$0")/_env.sh" dev
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy src
set +e
.venv/bin/pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$rc"

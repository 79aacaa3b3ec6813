# Sourced by demo.sh and test.sh: make .venv with loghunt installed, once per pyproject change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "loghunt needs Python >= 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.loghunt-installed-$1"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing loghunt and its dependencies into .venv ..." >&2
  .venv/bin/python -m pip install --quiet --no-cache-dir --upgrade pip
  .venv/bin/python -m pip install --quiet --no-cache-dir -e ".[$1]"
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# Installs the Rucio server used by the tests and the benchmark, once, into its own virtual environment:
# the `rucio` server package ships the same `rucio` Python package as the portal's rucio-clients, so the
# two never share a venv. Re-runs are instant (stamp file); two runs at once install once (flock).
# PostgreSQL comes from Debian (bin/dev's ensure_rucio); SQLite locks under Rucio's daemons.
#
#   bash tests/servers/rucio/install.sh
#
#   ESAP_RUCIO_VENV  the server's venv          (default: <repo>/.venv-rucio)
#   PYTHON           interpreter for the venv   (default: python3.11, else python3)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
VENV=${ESAP_RUCIO_VENV:-$ROOT/.venv-rucio}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
PACKAGES=(rucio==41.5.1 gunicorn==27.0.1 'psycopg[binary]==3.3.9')
STAMP="$VENV/.esap-rucio-installed"
WANT="${PACKAGES[*]}"
LOG="$VENV/.esap-install.log"

installed() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; }
quietly() { "$@" >>"$LOG" 2>&1 || { echo "failed: $* (log: $LOG)" >&2; tail -20 "$LOG" >&2; exit 1; }; }

installed && exit 0

mkdir -p "$VENV"
if command -v flock >/dev/null; then
  exec 9>"$VENV/.esap-install.lock"
  flock 9
  installed && exit 0
fi
echo "Installing the Rucio server into $VENV (log: $LOG)" >&2
: >"$LOG"
# bin/pip, not bin/python: a venv that failed at ensurepip leaves bin/python behind; re-running venv fixes it.
if [ ! -x "$VENV/bin/pip" ] && ! "$PYTHON" -m venv "$VENV" >>"$LOG" 2>&1; then
  pkg=$("$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')
  tail -5 "$LOG" >&2; echo "could not create $VENV; on Debian/Ubuntu: apt-get install $pkg" >&2; exit 1
fi
quietly "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input "${PACKAGES[@]}"
echo "$WANT" >"$STAMP"

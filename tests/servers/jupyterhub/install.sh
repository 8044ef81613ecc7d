#!/usr/bin/env bash
# Installs the JupyterHub used by the tests and the demo, once: its own virtual environment (JupyterHub
# and JupyterLab) and configurable-http-proxy from npm. Re-runs are instant (stamp file).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
HUB_VENV=${ESAP_HUB_VENV:-$ROOT/.venv-hub}
NODE_PREFIX=${ESAP_NODE_PREFIX:-$ROOT/.node}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
JUPYTERHUB=jupyterhub==6.1.1
JUPYTERLAB=jupyterlab==4.6.6
PROXY=configurable-http-proxy@5.3.0
STAMP="$HUB_VENV/.esap-hub-installed"
WANT="$JUPYTERHUB $JUPYTERLAB $PROXY lab-overrides-1"
LOG="$HUB_VENV.install.log"
quietly() { "$@" >>"$LOG" 2>&1 || { echo "failed: $* (log: $LOG)" >&2; tail -20 "$LOG" >&2; exit 1; }; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$NODE_PREFIX/node_modules/.bin/configurable-http-proxy" ]; then
  exit 0
fi

[ -x "$HUB_VENV/bin/python" ] || "$PYTHON" -m venv "$HUB_VENV"
quietly "$HUB_VENV/bin/pip" install --disable-pip-version-check "$JUPYTERHUB" "$JUPYTERLAB"
# rfc3987-syntax builds a grammar at import: +2 s on every hub and server start. Nothing needs it at run
# time (pip check stays clean), so it goes, and it must be the last pip step.
"$HUB_VENV/bin/pip" uninstall --quiet -y rfc3987-syntax >/dev/null 2>&1 || true

mkdir -p "$NODE_PREFIX"
if ! npm install --no-fund --no-audit --no-save --prefix "$NODE_PREFIX" "$PROXY" >>"$LOG" 2>&1; then
  # No npm registry at hand: the pure-Python drop-in behaves the same for our use (see shared notes).
  echo "npm could not install $PROXY (log: $LOG); using the pure-Python configurable-http-proxy" >&2
  quietly "$HUB_VENV/bin/pip" install --disable-pip-version-check configurable-http-proxy==0.4.0
  mkdir -p "$NODE_PREFIX/node_modules/.bin"
  ln -sf "$HUB_VENV/bin/configurable-http-proxy" "$NODE_PREFIX/node_modules/.bin/configurable-http-proxy"
fi

# JupyterLab's "get official Jupyter news?" pop-up has no network to talk to here.
settings="$HUB_VENV/share/jupyter/lab/settings"
mkdir -p "$settings"
echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' >"$settings/overrides.json"

echo "$WANT" >"$STAMP"

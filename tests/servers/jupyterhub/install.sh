#!/usr/bin/env bash
# Installs the JupyterHub used by the tests and the demo, once: its own virtual environment (JupyterHub
# and JupyterLab; the demo notebooks need nothing beyond the standard library) and configurable-http-proxy
# from npm. Re-runs are instant (stamp file). Works as root or as a normal user.
#
#   bash tests/servers/jupyterhub/install.sh
#
#   ESAP_HUB_VENV     the hub's venv          (default: <repo>/.venv-hub)
#   ESAP_NODE_PREFIX  npm prefix of the proxy (default: <repo>/.node)
#   PYTHON            interpreter for the venv (default: python3.11, else python3)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
HUB_VENV=${ESAP_HUB_VENV:-$ROOT/.venv-hub}
NODE_PREFIX=${ESAP_NODE_PREFIX:-$ROOT/.node}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
PACKAGES=(jupyterhub==6.1.1 jupyterlab==4.6.6 oauthenticator==17.4.0 astropy==8.0.2)
PROXY=configurable-http-proxy@5.3.0
PROXY_BIN="$NODE_PREFIX/node_modules/.bin/configurable-http-proxy"
STAMP="$HUB_VENV/.esap-hub-installed"
WANT="${PACKAGES[*]} $PROXY lab-overrides-1"
LOG="$HUB_VENV/.esap-install.log"

installed() { [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$PROXY_BIN" ]; }
quietly() { "$@" >>"$LOG" 2>&1 || { echo "failed: $* (log: $LOG)" >&2; tail -20 "$LOG" >&2; exit 1; }; }

installed && exit 0

mkdir -p "$HUB_VENV"
if command -v flock >/dev/null; then  # two test runs starting at once install only once
  exec 9>"$HUB_VENV/.esap-install.lock"
  flock 9
  installed && exit 0
fi
echo "Installing JupyterHub into $HUB_VENV and $PROXY into $NODE_PREFIX (log: $LOG)" >&2
: >"$LOG"

# bin/pip, not bin/python: a venv that failed at ensurepip leaves bin/python behind; re-running venv fixes it.
if [ ! -x "$HUB_VENV/bin/pip" ] && ! "$PYTHON" -m venv "$HUB_VENV" >>"$LOG" 2>&1; then
  pkg=$("$PYTHON" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')
  tail -5 "$LOG" >&2; echo "could not create $HUB_VENV; on Debian/Ubuntu: apt-get install $pkg" >&2; exit 1
fi
quietly "$HUB_VENV/bin/python" -m pip install --disable-pip-version-check --no-input "${PACKAGES[@]}"

mkdir -p "$NODE_PREFIX"
if ! npm install --no-fund --no-audit --no-save --prefix "$NODE_PREFIX" "$PROXY" >>"$LOG" 2>&1; then
  # No npm, or no registry at hand: the pure-Python drop-in behaves the same for our use (shared notes).
  echo "npm could not install $PROXY (log: $LOG); using the pure-Python configurable-http-proxy" >&2
  quietly "$HUB_VENV/bin/python" -m pip install --disable-pip-version-check --no-input \
    configurable-http-proxy==0.4.0
  mkdir -p "$(dirname "$PROXY_BIN")"
  ln -sf "$HUB_VENV/bin/configurable-http-proxy" "$PROXY_BIN"
fi

# JupyterLab's "get official Jupyter news?" pop-up has no network to talk to here.
settings="$HUB_VENV/share/jupyter/lab/settings"
mkdir -p "$settings"
echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' >"$settings/overrides.json"

# Last step, after every pip install: rfc3987-syntax builds a grammar at import, adding 2 s to every hub
# and server start. Nothing needs it at run time (pip check stays clean); any later resolve of
# jupyter-server's dependencies brings it back.
quietly "$HUB_VENV/bin/python" -m pip uninstall --disable-pip-version-check -y rfc3987-syntax
if "$HUB_VENV/bin/python" -c 'import rfc3987_syntax' 2>/dev/null; then
  echo "rfc3987-syntax is still installed in $HUB_VENV" >&2
  exit 1
fi

echo "$WANT" >"$STAMP"

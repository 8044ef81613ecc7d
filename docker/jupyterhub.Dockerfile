# A demo JupyterHub for the compose stack: the same configuration and spawner as the tests' local hub.
FROM python:3.11-slim
# Debian stable's Node.js, whatever its point release; the proxy itself is pinned.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/* \
    && npm install --global --no-fund --no-audit configurable-http-proxy@5.3.0 \
    && pip install --no-cache-dir jupyterhub==6.1.1 jupyterlab==4.6.6 \
    && pip uninstall -y rfc3987-syntax
COPY tests/servers/jupyterhub /srv/hub
# The portal's least-privilege role (facilities/hub/roles.py); the service token comes from compose.
ENV ESAP_HUB_STATE_DIR=/srv/hub/state ESAP_HUB_PORT_BASE=8100 \
    ESAP_HUB_PORTAL_SCOPES="admin:users servers access:servers tokens read:hub" \
    ESAP_HUB_PROXY_CMD=/usr/local/bin/configurable-http-proxy ESAP_HUB_VENV_BIN=/usr/local/bin
RUN mkdir -p /srv/hub/state
WORKDIR /srv/hub/state
EXPOSE 8100
CMD ["jupyterhub", "-f", "/srv/hub/jupyterhub_config.py"]

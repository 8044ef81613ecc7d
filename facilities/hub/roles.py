"""The least a hub must grant the portal's service, scope by scope (JupyterHub RBAC). The test hub
grants exactly these, so the whole suite proves they suffice; README shows them to operators.

    read:hub        the hub's version, for the health probe
    servers         start, follow (/progress) and stop users' named servers (includes read:servers)
    access:servers  held by the portal so it may mint each step's token scoped to one server
                    (access:servers!server=<user>/<server>); the portal itself never uses it directly
    tokens          mint and revoke those per-step tokens for the user
    admin:users     create a hub user on first launch, when the facility allows it;
    read:users      otherwise enough: the user must already exist on the hub
    list:users      (in admin:users; optional with read:users) lets the periodic look for culled servers
                    list a hub's active users 200 at a time instead of asking user by user
"""

PORTAL_SCOPES = ["admin:users", "servers", "access:servers", "tokens", "read:hub"]
PORTAL_SCOPES_WITHOUT_USER_CREATION = ["read:users", "servers", "access:servers", "tokens", "read:hub"]

// A small OpenID provider for the test suite on panva's certified `oidc-provider`: authorization code
// with PKCE for every client, RS256 ID tokens, discovery, userinfo, refresh tokens, logout.
// Test-only parts: an in-memory store, a static user table with plain passwords, a bare login form and
// consent granted automatically (first-party clients). Never use it for anything else.
//
//   ISSUER=http://localhost:18240 PORT=18240 USERS_JSON='{...}' CLIENTS_JSON='[...]' node server.mjs
import crypto from "node:crypto";
import http from "node:http";
import Provider from "oidc-provider";

const issuer = process.env.ISSUER;
const port = Number(process.env.PORT);
if (!issuer || !port) throw new Error("ISSUER and PORT are required");

// { "<login>": { password, name, email, groups: [..] } }
const users = JSON.parse(process.env.USERS_JSON || "{}");
const clients = JSON.parse(process.env.CLIENTS_JSON || "[]");

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: crypto.randomUUID(), use: "sig", alg: "RS256" };
}

function account(login) {
  const user = users[login];
  if (!user) return undefined;
  return {
    accountId: login,
    async claims() {
      return {
        sub: login,
        preferred_username: login,
        name: user.name || login,
        email: user.email || `${login}@example.org`,
        email_verified: true,
        groups: user.groups || [],
      };
    },
  };
}

const provider = new Provider(issuer, {
  clients: clients.map((client) => ({
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
    ...client,
  })),
  jwks: { keys: [signingKey()] },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Grant: 86400,
    Session: 86400, RefreshToken: 86400,
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  scopes: ["openid", "offline_access", "email", "profile", "groups"],
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, id) => account(id),
});

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

function loginForm(res, uid, status = 200, error = "") {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(`<!doctype html><html><head><title>Test IdP: sign in</title></head><body>
<h1>Test identity provider</h1>${error ? `<p class="error">${escapeHtml(error)}</p>` : ""}
<form id="login-form" method="post" action="/interaction/${escapeHtml(uid)}/login">
<label>Username <input name="login" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form></body></html>`);
}

async function formBody(req) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) throw new Error("form too large");
  }
  return new URLSearchParams(body);
}

async function grantConsent(details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(" "));
  }
  return grant.save();
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error("interaction mismatch");
  if (req.method === "GET" && !action && details.prompt.name === "login") return loginForm(res, uid);
  if (req.method === "GET" && !action && details.prompt.name === "consent") {
    const grantId = await grantConsent(details);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === "POST" && action === "login") {
    const form = await formBody(req);
    const user = users[form.get("login")];
    if (!user || user.password !== form.get("password")) {
      return loginForm(res, uid, 401, "Invalid username or password");
    }
    return provider.interactionFinished(req, res, { login: { accountId: form.get("login") } },
      { mergeWithLastSubmission: false });
  }
  res.writeHead(400, { "content-type": "text/plain" });
  res.end("bad interaction request");
}

const handle = provider.callback();
const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login))?\/?(?:\?.*)?$/.exec(req.url);
  if (!match) return handle(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    if (!res.headersSent) res.writeHead(400, { "content-type": "text/plain" });
    res.end(String(error.message || error));
  }
});

server.listen(port, "127.0.0.1", () => console.log(`test IdP ${issuer} listening on 127.0.0.1:${port}`));
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}

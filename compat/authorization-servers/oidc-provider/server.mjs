// A real third-party OAuth 2.0 authorization server for mcp-authspec's own tests: panva's
// node-oidc-provider (the exact version is in package.json), configured as its documentation
// (docs/README.md of the package's repository, "Configuration options") shows, on 127.0.0.1.
//
//   node server.mjs [--port N] [--alg RS256|ES256] [--dpop-nonce] [--opaque] [--ignore-stdin]
//
// Prints exactly one line `issuer <URL>` on stdout once it listens, then runs until SIGTERM,
// SIGINT or the end of its standard input (so a test harness that dies cannot leave it behind;
// `--ignore-stdin` for running it in the background by hand).
//
// Nothing here is hardened for production: keys are generated at start and everything is kept in
// oidc-provider's in-memory adapter, which is what we want for a test AS started per test.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

// Standard output carries one line, `issuer <URL>`, read by the harness. oidc-provider writes its
// NOTICEs ("default … function called, you SHOULD change it") with console.info, i.e. to
// stdout: send them, and any other console.info/log, to stderr.
const writeStdout = (line) => process.stdout.write(`${line}\n`);
console.info = console.error;
console.log = console.error;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    alg: { type: 'string', default: 'RS256' },
    'dpop-nonce': { type: 'boolean', default: false },
    opaque: { type: 'boolean', default: false },
    'ignore-stdin': { type: 'boolean', default: false },
  },
});
if (!['RS256', 'ES256'].includes(args.alg)) {
  console.error(`--alg must be RS256 or ES256, not ${args.alg}`);
  process.exit(2);
}

// The scopes an MCP resource server on loopback can be given (the reference server's
// BASE_SCOPE and ADMIN_SCOPE).
const MCP_SCOPES = 'mcp:read mcp:write';
// Password of every account of the login form below (any username).
const PASSWORD = 'secret';

// `jwks` option: private keys, the first of a type signs. One RSA key (RS256) and one P-256 key
// (ES256), generated at every start with a random kid, so a cache keyed by kid never mixes two
// runs. `alg` on each key lets the keystore select the key for the access-token algorithm.
function privateJwk(type, options, alg) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('base64url')}`,
    alg,
    use: 'sig',
  };
}
const jwks = {
  keys: [
    privateJwk('rsa', { modulusLength: 2048 }, 'RS256'),
    privateJwk('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

// `features.resourceIndicators.getResourceServerInfo`: RFC 8707 resource indicators. Any
// http URL on a loopback host is a resource server (the MCP server under test listens on an
// ephemeral loopback port, so its URL cannot be registered in advance); anything else is
// refused with invalid_target, as the default helper does for everything.
function isLoopbackHttp(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

// Listen first: the issuer identifier must contain the port the OS chose for `--port 0`.
let handle = (req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handle(req, res));
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks,
  // Signed cookies (the `cookies` module's keygrip), keys per start.
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  // `findAccount`: every account exists; its subject is the username typed at login.
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  clients: [
    {
      // Confidential client for client_credentials. A client registered with
      // client_secret_basic may also send its secret in the body (client_secret_post):
      // oidc-provider accepts either for the two secret methods (lib/shared/client_auth.js).
      client_id: 'mcp-authspec-cc',
      client_secret: process.env.OIDC_CC_SECRET || 'cc-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      // Public native client (RFC 8252): `application_type: 'native'` makes oidc-provider
      // accept the registered loopback redirect URI with any port (RFC 8252 §7.3).
      client_id: 'mcp-authspec-public',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/callback'],
    },
  ],
  // `scopes`: listed so they appear in scopes_supported; which of them a token carries is
  // decided per resource server below.
  scopes: ['openid', 'offline_access', ...MCP_SCOPES.split(' ')],
  // `ttl` (seconds): short, for a test AS started per test; access tokens 1 hour (set per
  // resource server below).
  ttl: {
    AccessToken: 3600,
    ClientCredentials: 3600,
    AuthorizationCode: 60,
    DeviceCode: 600,
    IdToken: 3600,
    RefreshToken: 24 * 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  // `pkce.required`: PKCE for every authorization request (S256 is the only method oidc-provider
  // accepts).
  pkce: { required: () => true },
  // `issueRefreshToken`: a refresh token whenever the client may use the grant, not only with
  // offline_access (which OpenID Connect ties to prompt=consent).
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  // oidc-provider refuses to fetch from special-use addresses (its SSRF guard, on by
  // default), loopback among them. The tool hosts its client ID metadata documents on
  // 127.0.0.1, so this bed lets fetches to 127.0.0.1 through and keeps the guard for every
  // other address (the tool does not grade SSRF: a loopback bed cannot tell it apart).
  fetch(url, options) {
    if (new URL(url).hostname === '127.0.0.1') {
      delete options.dispatcher;
    }
    return globalThis.fetch(url, options);
  },
  features: {
    // RFC 7662, for resource servers that validate opaque access tokens (`--opaque`); any
    // confidential client may introspect (oidc-provider's default allowedPolicy).
    introspection: { enabled: args.opaque },
    // Our own interactions below replace the development views.
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 7591 dynamic client registration, open (no initial access token), and RFC 7592
    // client management: the 201 names registration_client_uri and registration_access_token,
    // with which the tool deletes every client it registered at the end of a run.
    registration: { enabled: true },
    registrationManagement: { enabled: true },
    // RFC 8628; the default user-code input, confirm and success pages (plain HTML forms with an
    // xsrf field), which device-approve.mjs submits.
    deviceFlow: { enabled: true },
    // RFC 9449. nonceSecret (32 bytes) makes oidc-provider hand out DPoP-Nonce values;
    // with --dpop-nonce, requireNonce makes every proof at the token endpoint need one
    // (use_dpop_nonce, RFC 9449 §8), otherwise a nonce is accepted but not demanded.
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => args['dpop-nonce'],
    },
    // Client ID metadata documents (MCP 2025-11-25 SHOULD), experimental in this version
    // (it implements draft-02 of the draft MCP pins at -00): a client_id that is an https URL
    // is fetched as the client's metadata. The tool hosts its documents on loopback under the
    // test CA of fixtures/tls, which the compat harness makes Node trust (NODE_EXTRA_CA_CERTS).
    clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
    resourceIndicators: {
      enabled: true,
      // With a single granted resource, the token endpoint issues for it even when the client
      // omits `resource` there (and even with openid); the tool sends it anyway (RFC 8707 §2.2).
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resourceIndicator) {
        if (!isLoopbackHttp(resourceIndicator)) {
          throw new errors.InvalidTarget('only loopback http resource servers are known here');
        }
        // The audience defaults to the resource indicator itself. JWT access tokens are signed
        // with `typ: at+jwt` (RFC 9068) by oidc-provider; with `--opaque`, access tokens are
        // opaque handles the resource server introspects.
        return {
          scope: MCP_SCOPES,
          accessTokenFormat: args.opaque ? 'opaque' : 'jwt',
          accessTokenTTL: 3600,
          jwt: { sign: { alg: args.alg } },
        };
      },
    },
  },
});

// ---- Interactions ("User flows" in oidc-provider's docs) ----------------------------------
// oidc-provider redirects the browser to /interaction/<uid> when it needs a login or a consent.
// Login: a plain form, any username with password `secret`. Consent: granted at once, without a
// page, for whatever the (pre-registered) client asked, as the docs' example does on submit.

const html = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(uid, message) {
  return `<!DOCTYPE html><html><head><title>Sign-in</title></head><body>
<h1>Sign-in</h1>${message ? `<p class="error">${html(message)}</p>` : ''}
<form method="post" action="/interaction/${html(uid)}/login">
<input type="text" name="login" placeholder="username" autofocus>
<input type="password" name="password" placeholder="password">
<button type="submit">Sign-in</button>
</form></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantConsent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const saved = await grant.save();
  const consent = grantId ? {} : { grantId: saved };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  };
  if (details.prompt.name === 'consent') return grantConsent(req, res, details);
  if (details.prompt.name !== 'login') return send(501, `unsupported prompt ${html(details.prompt.name)}`);
  if (req.method === 'GET' && !action) return send(200, loginPage(uid));
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const login = form.get('login') ?? '';
    if (!login || form.get('password') !== PASSWORD) {
      // 401 and the form again, so a script sees the refusal in the status.
      return send(401, loginPage(uid, 'wrong username or password'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  return send(405, 'method not allowed');
}

const providerCallback = provider.callback();
handle = async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login))?(?:\?.*)?$/.exec(req.url);
  if (!match) return providerCallback(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (err) {
    // e.g. SessionNotFound: the interaction cookie is missing or expired.
    if (!res.headersSent) res.writeHead(err.status ?? 500, { 'content-type': 'text/plain' });
    res.end(`${err.name}: ${err.error_description ?? err.message}\n`);
  }
};

// Token-endpoint and interaction failures are otherwise silent: one line each on stderr.
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''));

writeStdout(`issuer ${issuer}`);

const stop = () => { server.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (!args['ignore-stdin']) {
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
}

// The MCP side of the npm stacks of the compatibility bed: streamable HTTP on POST /mcp
// (JSON answers), the protected resource metadata (RFC 9728) and the challenge's
// `resource_metadata` parameter. Token validation is NOT here: each stack passes the
// middleware its library documents, and this module only mounts it in front of /mcp.
//
// Plain Node and express; no MCP SDK (those are acceptance targets, kept apart).
'use strict';

const crypto = require('crypto');

const PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

/** The configuration every stack reads from its environment. */
function env() {
  const need = (name) => {
    const value = process.env[name];
    if (!value) {
      console.error(`environment variable ${name} is required`);
      process.exit(2);
    }
    return value;
  };
  return {
    port: Number(need('PORT')),
    issuer: need('ISSUER'),
    jwksUri: need('JWKS_URI'),
    resource: need('RESOURCE'),
    upstream: need('UPSTREAM_URL'),
  };
}

/**
 * The app: PRM at both well-known URLs, then `protect` (an array of middleware) in front of
 * every /mcp method. `scopes` is the PRM's `scopes_supported` (left out when the stack requires
none: RFC 9728 §2 omits empty arrays). `express` is the stack's own
 * (this folder has no node_modules: each stack's lock file pins it).
 */
function app({ express, config, protect, scopes, name }) {
  const resource = new URL(config.resource);
  const prmUrl = `${resource.origin}/.well-known/oauth-protected-resource${resource.pathname}`;
  const prm = {
    resource: config.resource,
    authorization_servers: [config.issuer],
    ...(scopes.length ? { scopes_supported: scopes } : {}),
    bearer_methods_supported: ['header'],
  };
  const sessions = new Map(); // Mcp-Session-Id -> sub

  const a = express();
  a.get(['/.well-known/oauth-protected-resource', `/.well-known/oauth-protected-resource${resource.pathname}`],
    (req, res) => res.json(prm));
  // Authentication first: nothing of the request is read before the credentials are checked.
  a.use('/mcp', ...protect, express.json({ limit: '1mb' }));
  a.post('/mcp', async (req, res) => {
    const subject = subjectOf(req);
    const message = req.body;
    if (!message || typeof message !== 'object' || Array.isArray(message) || message.jsonrpc !== '2.0') {
      return res.status(400).json(rpcError(null, -32600, 'invalid JSON-RPC message'));
    }
    const id = message.id === undefined ? null : message.id;
    if (message.method === 'initialize') {
      const session = crypto.randomBytes(18).toString('base64url');
      sessions.set(session, subject);
      const asked = message.params && message.params.protocolVersion;
      res.set('Mcp-Session-Id', session);
      return res.json(rpcResult(id, {
        protocolVersion: PROTOCOL_VERSIONS.includes(asked) ? asked : PROTOCOL_VERSIONS[PROTOCOL_VERSIONS.length - 1],
        capabilities: { tools: { listChanged: false } },
        serverInfo: { name, version: '0.1.0' },
      }));
    }
    const session = req.get('mcp-session-id');
    if (!session) {
      return res.status(400).json(rpcError(id, -32600, 'Mcp-Session-Id required'));
    }
    if (sessions.get(session) !== subject) {
      return res.status(404).json(rpcError(id, -32600, 'unknown session'));
    }
    if (message.id === undefined) {
      return res.status(202).end(); // a notification, e.g. notifications/initialized
    }
    switch (message.method) {
      case 'ping':
        return res.json(rpcResult(id, {}));
      case 'tools/list':
        return res.json(rpcResult(id, { tools: TOOLS }));
      case 'tools/call':
        return res.json(await callTool(config, id, message.params || {}));
      default:
        return res.json(rpcError(id, -32601, 'method not found'));
    }
  });
  a.all('/mcp', (req, res) => res.set('Allow', 'POST').status(405).end());
  a.use(challengeWithMetadata(prmUrl));
  return a;
}

/** `sub` of the validated token, wherever the stack's library put the claims. */
function subjectOf(req) {
  const claims = (req.auth && req.auth.payload) || req.user || {};
  return String(claims.sub);
}

const TOOLS = [
  { name: 'canary', description: 'Calls the upstream API once.', inputSchema: { type: 'object', properties: {} } },
  {
    name: 'echo',
    description: 'Returns its text.',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } } },
  },
];

async function callTool(config, id, params) {
  if (params.name === 'echo') {
    const text = String((params.arguments && params.arguments.text) || '');
    return rpcResult(id, { content: [{ type: 'text', text }], isError: false });
  }
  if (params.name !== 'canary') {
    return rpcError(id, -32602, 'unknown tool');
  }
  // The upstream call carries no credential of the client (MCP: no token passthrough).
  let text = 'upstream notified';
  try {
    const r = await fetch(config.upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'canary' }),
      signal: AbortSignal.timeout(3000),
    });
    if (!r.ok) text = `upstream answered ${r.status}`;
  } catch (e) {
    text = 'upstream unreachable';
  }
  return rpcResult(id, { content: [{ type: 'text', text }], isError: false });
}

/**
 * Error handler: the status and headers the library put on its error, with
 * `resource_metadata` added to its Bearer challenge (RFC 9728 §5.1); everything else the
 * library wrote is kept as is.
 */
function challengeWithMetadata(prmUrl) {
  // eslint-disable-next-line no-unused-vars
  return (err, req, res, next) => {
    const status = err.status || err.statusCode || 500;
    const headers = { ...(err.headers || {}) };
    const name = Object.keys(headers).find((h) => h.toLowerCase() === 'www-authenticate');
    const param = `resource_metadata="${prmUrl}"`;
    if (name) {
      headers[name] = addToBearer(String(headers[name]), param);
    } else if (status === 401) {
      headers['WWW-Authenticate'] = `Bearer ${param}`;
    }
    res.set(headers).status(status).json({
      error: err.code || (status === 401 ? 'unauthorized' : 'error'),
      error_description: status < 500 ? String(err.message || '') : 'internal error',
    });
  };
}

/** Puts `param` into the Bearer challenge of a WWW-Authenticate value (or adds one). */
function addToBearer(value, param) {
  const bearer = /(^|,\s*)Bearer(?=\s|,|$)( (?=[^,]*=))?/i;
  const m = bearer.exec(value);
  if (!m) {
    return `Bearer ${param}, ${value}`;
  }
  const end = m.index + m[0].length;
  const hasParams = m[2] !== undefined;
  return value.slice(0, end) + (hasParams ? `${param}, ` : ` ${param}`) + value.slice(end);
}

function rpcResult(id, result) {
  return { jsonrpc: '2.0', id, result };
}

function rpcError(id, code, message) {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/** Listens on loopback only and prints the ready line the bed waits for. */
function listen(a, config, name) {
  const server = a.listen(config.port, '127.0.0.1', () => {
    console.log(`ready ${name} http://127.0.0.1:${config.port}/mcp`);
  });
  return server;
}

module.exports = { env, app, listen };

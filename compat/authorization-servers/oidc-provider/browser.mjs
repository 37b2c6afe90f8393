// The few things of a browser that login.mjs and device-approve.mjs need to drive server.mjs's
// pages without a person: a cookie jar, manual redirects and HTML form submission. Node's
// built-in fetch only; no browser, no dependency.

// Credentials typed into a login form (server.mjs takes any username with password `secret`).
export const USERNAME = process.env.MCP_AUTHSPEC_LOGIN_USERNAME || 'mcp-authspec-user';
export const PASSWORD = process.env.MCP_AUTHSPEC_LOGIN_PASSWORD || 'secret';

export function fail(message) {
  console.error(message);
  process.exit(1);
}

// RFC 6265 in small: cookies are kept per host (not port, as browsers do) and path; expired
// ones are dropped; Domain, Secure and SameSite are ignored (everything here is one loopback
// origin over http). oidc-provider scopes its interaction cookies to /interaction/<uid> and
// /auth/<uid>, so the path match matters.
export class CookieJar {
  #cookies = new Map(); // `${host} ${path} ${name}` -> { host, path, name, value }

  store(url, response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      // Default path: the request path up to its last '/' (RFC 6265 §5.1.4).
      let path = url.pathname.slice(0, url.pathname.lastIndexOf('/')) || '/';
      let expired = value === '';
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=').map((s) => s.trim());
        if (/^path$/i.test(key) && val.startsWith('/')) path = val;
        if (/^max-age$/i.test(key) && Number(val) <= 0) expired = true;
        if (/^expires$/i.test(key) && Date.parse(val) <= Date.now()) expired = true;
      }
      const key = `${url.hostname} ${path} ${name}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { host: url.hostname, path, name, value });
    }
  }

  header(url) {
    const pathMatches = (path) => url.pathname === path
      || url.pathname.startsWith(path.endsWith('/') ? path : `${path}/`);
    return [...this.#cookies.values()]
      .filter((c) => c.host === url.hostname && pathMatches(c.path))
      .sort((a, b) => b.path.length - a.path.length) // longer paths first (§5.4)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, e) => {
    if (e[0] === '#') {
      return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

function attributes(tag) {
  const out = {};
  for (const m of tag.matchAll(/([a-z_:.-]+)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/gi)) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

// The first <form> of a page: where it posts and its <input> fields (name, type, value). The
// pages of server.mjs and oidc-provider's device-flow pages are simple enough for this.
export function parseForm(page, baseUrl) {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(page);
  if (!form) return undefined;
  const attrs = attributes(form[1]);
  const inputs = [...form[2].matchAll(/<input\b([^>]*)>/gi)]
    .map((m) => attributes(m[1]))
    .filter((a) => a.name)
    .map((a) => ({ name: a.name, type: (a.type || 'text').toLowerCase(), value: a.value ?? '' }));
  return {
    action: new URL(attrs.action || baseUrl.href, baseUrl),
    method: (attrs.method || 'get').toUpperCase(),
    inputs,
  };
}

// A page's form, submitted with `fill(input)` (or the input's own value when it returns
// undefined), as a browser would send it.
export function formRequest(form, fill) {
  const body = new URLSearchParams();
  for (const input of form.inputs) body.append(input.name, fill(input) ?? input.value);
  if (form.method === 'GET') {
    const url = new URL(form.action);
    url.search = body.toString();
    return { url, method: 'GET' };
  }
  return { url: form.action, method: 'POST', body };
}

// What a person types into a login form: the username into the text field, the password
// into the password field.
export function loginFill(input) {
  if (input.type === 'password') return PASSWORD;
  if (input.type === 'text' || input.type === 'email') {
    if (/^(login|username|user|email)$/i.test(input.name)) return USERNAME;
  }
  return undefined;
}

// One request with the jar, never following redirects itself (each hop is looked at).
export async function request(jar, { url, method = 'GET', body }) {
  const headers = { accept: 'text/html' };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  let response;
  try {
    response = await fetch(url, { method, body, headers, redirect: 'manual' });
  } catch (err) {
    fail(`${method} ${url}: ${err.cause?.message ?? err.message}`);
  }
  jar.store(url, response);
  const text = await response.text();
  if (process.env.MCP_AUTHSPEC_LOGIN_DEBUG) {
    console.error(`${method} ${url} -> ${response.status} ${response.headers.get('location') ?? ''}`);
  }
  return { status: response.status, location: response.headers.get('location'), text };
}

// For error messages: a page's text without markup, cut short.
export function excerpt(text) {
  return text.replace(/<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
}

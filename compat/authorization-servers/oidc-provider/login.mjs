// The "login command" of mcp-authspec's real-authorization-server mode, for server.mjs:
//
//   node login.mjs <authorization-url>      (or the URL in MCP_AUTHSPEC_AUTHORIZATION_URL)
//
// Plays the person in front of the browser: opens the authorization URL, signs in on the login
// form (browser.mjs: any username, password `secret`), follows every redirect on the
// authorization server, and stops at the first redirect that leaves it for a loopback http
// URL: the client's redirect URI. That URL is requested once (GET, no cookies), so the tool's
// loopback listener receives `code` and `state`. Exit 0 when the listener got a code; 1 with a
// message on stderr otherwise (including an `error` sent to the redirect URI, which is still
// delivered so the tool sees it too).

import {
  CookieJar, excerpt, fail, formRequest, loginFill, parseForm, request,
} from './browser.mjs';

const target = process.argv[2] ?? process.env.MCP_AUTHSPEC_AUTHORIZATION_URL;
if (!target) fail('usage: node login.mjs <authorization-url> (or set MCP_AUTHSPEC_AUTHORIZATION_URL)');

let next;
try {
  next = { url: new URL(target), method: 'GET' };
} catch {
  fail(`not a URL: ${target}`);
}
const asOrigin = next.url.origin;
const jar = new CookieJar();
const isLoopbackHttp = (url) => url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);

for (let hop = 0; hop < 20; hop += 1) {
  const response = await request(jar, next);
  if (response.status >= 300 && response.status < 400 && response.location) {
    const location = new URL(response.location, next.url);
    if (location.origin === asOrigin) {
      next = { url: location, method: 'GET' };
      continue;
    }
    if (!isLoopbackHttp(location)) fail(`redirected to ${location.origin}, which is not a loopback redirect URI`);
    // The redirect URI: deliver it to the tool's listener.
    let delivered;
    try {
      delivered = await fetch(location, { redirect: 'manual' });
      await delivered.arrayBuffer();
    } catch (err) {
      fail(`GET ${location}: ${err.cause?.message ?? err.message}`);
    }
    const params = location.searchParams;
    if (params.has('error')) {
      fail(`the authorization server answered error=${params.get('error')}${params.has('error_description') ? `: ${params.get('error_description')}` : ''} (delivered to ${location.origin}${location.pathname}, HTTP ${delivered.status})`);
    }
    if (!params.has('code')) fail(`redirect to ${location.origin}${location.pathname} without code`);
    console.error(`login.mjs: code delivered to ${location.origin}${location.pathname} (HTTP ${delivered.status})`);
    process.exit(0);
  }
  if (response.status === 200) {
    const form = parseForm(response.text, next.url);
    if (!form) fail(`${next.url.origin}${next.url.pathname}: a page without a form: ${excerpt(response.text)}`);
    next = formRequest(form, loginFill);
    continue;
  }
  fail(`${next.method} ${next.url.origin}${next.url.pathname}: HTTP ${response.status}: ${excerpt(response.text)}`);
}
fail('more than 20 steps without reaching the redirect URI');

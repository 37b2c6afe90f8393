// Approves an RFC 8628 device authorization on server.mjs as a person would:
//
//   node device-approve.mjs <verification_uri> <user_code>
//   node device-approve.mjs <verification_uri_complete>
//
// Opens the verification URI, enters the user code on oidc-provider's input page, submits its
// confirm page, signs in on the login form (browser.mjs: any username, password `secret`), and
// checks that the flow ends on the success page (a page without a form). Exit 0 when approved; 1 with a
// message on stderr otherwise.

import {
  CookieJar, excerpt, fail, formRequest, loginFill, parseForm, request,
} from './browser.mjs';

const [target, userCode] = process.argv.slice(2);
if (!target) fail('usage: node device-approve.mjs <verification_uri> <user_code>');

let next;
try {
  next = { url: new URL(target), method: 'GET' };
} catch {
  fail(`not a URL: ${target}`);
}
const asOrigin = next.url.origin;
const jar = new CookieJar();
let codeSent = false;
let confirmed = false;

for (let hop = 0; hop < 20; hop += 1) {
  const response = await request(jar, next);
  if (response.status >= 300 && response.status < 400 && response.location) {
    const location = new URL(response.location, next.url);
    if (location.origin !== asOrigin) fail(`redirected away from the authorization server, to ${location.origin}`);
    next = { url: location, method: 'GET' };
    continue;
  }
  if (response.status !== 200) {
    fail(`${next.method} ${next.url.origin}${next.url.pathname}: HTTP ${response.status}: ${excerpt(response.text)}`);
  }
  const form = parseForm(response.text, next.url);
  if (!form) {
    // oidc-provider's order: code input, confirm, login, then the success page (no form).
    if (confirmed) {
      console.error('device-approve.mjs: approved');
      process.exit(0);
    }
    fail(`${next.url.origin}${next.url.pathname}: a page without a form: ${excerpt(response.text)}`);
  }
  const codeInput = form.inputs.find((input) => input.name === 'user_code' && input.type === 'text');
  if (codeInput) {
    // The input page again after the code was sent: the code was refused (its page says why).
    if (codeSent) fail(`user code refused: ${excerpt(response.text)}`);
    if (!userCode && !codeInput.value) fail('no user code given and none in the verification URI');
    codeSent = true;
  }
  // oidc-provider's confirm form carries confirm=yes (its abort button lies outside the form).
  if (form.inputs.some((input) => input.name === 'confirm')) confirmed = true;
  next = formRequest(form, (input) => (input === codeInput && userCode ? userCode : loginFill(input)));
}
fail('more than 20 steps without reaching the success page');

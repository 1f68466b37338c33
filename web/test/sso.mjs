// sso.mjs drives Debian's Chromium (through playwright-core) through the
// web terminal's single sign-on: the page offers "Sign in with SSO", the
// gateway sends the browser to the OpenID provider, its login form is
// filled in, the provider sends the browser back, and the page, signed in
// by the session cookie alone, lists pods and runs a command in a
// terminal; then signs out. The provider and the gateway are started by
// the caller (interop/oidc's TestChromiumSignIn), on different sites
// (127.0.0.1 and localhost), as in a real deployment.
//
// usage: node test/sso.mjs --url https://localhost:PORT/ui/ --user U --password P
//   --who "signed in as NAME" [--chromium PATH] [--artifacts DIR]
// The servers' certificates come from a test authority: the browser
// context ignores certificate errors (the cookies' Secure flag still
// applies, the page being https).
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
for (const a of ['url', 'user', 'password', 'who']) assert.ok(args[a], `--${a} is required`);
const artifacts = args.artifacts || 'test-artifacts';
mkdirSync(artifacts, { recursive: true });
const WAIT = 30000;

function log(...a) {
  console.log('sso:', ...a);
}

async function screen(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('.pane:not([hidden]) .xterm-rows > div'),
    (r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n'));
}

async function waitScreen(page, re) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(page);
    if (re.test(last)) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`terminal never showed ${re}; screen:\n${last}`);
}

async function run(page, context) {
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  const origin = new URL(args.url).origin;
  await page.goto(args.url);
  await page.locator('#signin').waitFor({ timeout: WAIT });
  await page.locator('#signin-sso-link').waitFor({ timeout: WAIT });
  log('the page offers single sign-on');
  await page.click('#signin-sso-link');
  await page.locator('input#username').waitFor({ timeout: WAIT });
  assert.notEqual(new URL(page.url()).origin, origin, 'the login form is not the provider\'s');
  log('at the provider\'s login form:', new URL(page.url()).origin);
  await page.fill('input#username', args.user);
  await page.fill('input#password', args.password);
  await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.href.startsWith(origin + '/ui/'), { timeout: WAIT });
  await page.locator('#who', { hasText: args.who }).waitFor({ timeout: WAIT });
  log('back on the page:', await page.locator('#who').textContent());

  const cookies = await context.cookies(origin);
  const session = cookies.find((c) => c.name === 'porthole_session');
  assert.ok(session, 'no session cookie: ' + JSON.stringify(cookies.map((c) => c.name)));
  assert.equal(session.httpOnly, true);
  assert.equal(session.secure, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(!cookies.some((c) => c.name === 'porthole_oidc_login'), 'the login cookie outlived the callback');
  assert.equal(await page.evaluate(() => document.cookie.includes('porthole_session')), false, 'the page script can read the session');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('porthole.token')), null, 'a token was stored');
  log('session cookie HttpOnly, Secure, SameSite=Strict; no token in the page');

  // Signed in by the cookie alone: the list, then a terminal over the
  // WebSocket (which carries the cookie and the page's Origin).
  const pod = page.locator('.pod[data-pod="exec"]');
  await pod.waitFor({ timeout: WAIT });
  await pod.locator('button[data-container="main"]').click();
  await page.locator('input[name="mode"][value="exec"]').check();
  await page.fill('#command', `sh -c 'echo sso-$((6*7)); sleep 1'`);
  await page.locator('#tty').setChecked(false);
  await page.click('#open');
  await waitScreen(page, /^sso-42$/m);
  log('a terminal ran a command over the session');
  await page.screenshot({ path: join(artifacts, 'sso-signed-in.png') });

  await page.click('#signout');
  await page.locator('#signin').waitFor({ timeout: WAIT });
  const after = await context.cookies(origin);
  assert.ok(!after.some((c) => c.name === 'porthole_session'), 'sign-out left the session cookie');
  await page.reload();
  await page.locator('#signin').waitFor({ timeout: WAIT });
  await page.locator('#signin-sso-link').waitFor({ timeout: WAIT });
  log('signed out: the page asks again');
  assert.deepEqual(problems, [], 'page errors');
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), 'porthole-sso-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: args.chromium || '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 800 },
  });
  const page = context.pages()[0] || (await context.newPage());
  try {
    await run(page, context);
  } catch (err) {
    await page.screenshot({ path: join(artifacts, 'sso-failure.png') }).catch(() => {});
    log('at failure:', page.url(), await page.locator('body').innerText().catch(() => ''));
    throw err;
  } finally {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => log('PASS'), (err) => {
  console.error('sso: FAIL:', err);
  process.exit(1);
});

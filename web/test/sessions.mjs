// sessions.mjs drives Debian's Chromium (through playwright-core) against a
// real `porthole serve --session-join` with two users: alice opens a shell
// in the web terminal; bob, in another tab signed in with his own token,
// finds it in the live sessions panel, watches it (alice's screen so far,
// then live; alice is told), then joins it and types a command that runs
// in alice's shell.
//
// usage: node test/sessions.mjs --porthole BIN [--chromium PATH] [--artifacts DIR]
// Exits 0 when every check passed. Run by web/sessions_browser_test.go.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const porthole = args.porthole;
const chromiumPath = args.chromium || '/usr/bin/chromium';
const artifacts = args.artifacts || 'test-artifacts';
assert.ok(porthole, '--porthole BIN is required');
mkdirSync(artifacts, { recursive: true });

const WAIT = 30000; // bound on every single wait, in ms
const log = (...a) => console.log('sessions:', ...a);

const dir = mkdtempSync(join(tmpdir(), 'porthole-sessions-'));
const podsFile = join(dir, 'pods.yaml');
writeFileSync(podsFile, `apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default}
spec:
  containers: [{name: shell, image: porthole/local, command: [sh], stdin: true}]
`);
const tokensFile = join(dir, 'tokens.csv');
writeFileSync(tokensFile, 'alice-token,alice,1,devs\nbob-token,bob,2,devs\n');

function startPorthole() {
  const proc = spawn(porthole, ['serve', '-f', podsFile, '--listen', '127.0.0.1:0', '--write-kubeconfig', '',
    '--plain-http', '--token-auth-file', tokensFile, '--session-join'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('porthole serve printed no banner: ' + out)), WAIT);
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`porthole serve exited (${code}) before its banner: ${out}`)));
    proc.stdout.on('data', (b) => {
      out += b;
      const m = out.match(/porthole serving on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1] });
      }
    });
  });
}

function stopPorthole(p) {
  return new Promise((resolve) => {
    if (p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => p.proc.kill('SIGKILL'), WAIT);
    p.proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    p.proc.kill('SIGTERM');
  });
}

// screen is the visible text of the page's active terminal, a line a row.
async function screen(page) {
  return page.evaluate(() => {
    const rows = document.querySelectorAll('.pane:not([hidden]) .xterm-rows > div');
    return Array.from(rows, (r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n');
  });
}

async function waitScreen(page, re, what) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(page);
    if (re.test(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`terminal never showed ${what || re}; screen:\n${last}`);
}

async function signIn(page, url, token) {
  await page.goto(url + '/ui/');
  await page.fill('#token', token);
  await page.click('#signin-submit');
  await page.locator('#app:not([hidden])').waitFor({ timeout: WAIT });
}

async function main() {
  const server = await startPorthole();
  const profile = mkdtempSync(join(tmpdir(), 'porthole-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 800 },
  });
  // Each tab keeps its own token (session storage): two users.
  const alice = context.pages()[0] || (await context.newPage());
  const bob = await context.newPage();
  try {
    await signIn(alice, server.url, 'alice-token');
    await alice.locator('.pod[data-pod="demo"] button[data-container="shell"]').click({ timeout: WAIT });
    await alice.fill('#command', 'sh');
    await alice.locator('#tty').setChecked(true);
    await alice.click('#open');
    await alice.locator('.pane:not([hidden])[data-state="open"]').waitFor({ timeout: WAIT });
    await waitScreen(alice, /[#$] ?$/m, 'the prompt');
    await alice.keyboard.type('echo before-$((6*7))');
    await alice.keyboard.press('Enter');
    await waitScreen(alice, /^before-42$/m);
    log('alice runs a shell');

    await signIn(bob, server.url, 'bob-token');
    const row = bob.locator('#session-list li.live-session');
    await row.first().waitFor({ timeout: WAIT });
    assert.equal(await row.count(), 1);
    const text = await row.first().locator('.rec-command').textContent();
    assert.match(text, /^alice: sh · default\/demo · shell · websocket$/, 'the listed session: ' + text);
    await row.first().locator('button.watch-session').click();
    await bob.locator('.pane:not([hidden])[data-watch="watch"][data-state="open"]').waitFor({ timeout: WAIT });
    // The snapshot: alice's screen so far.
    await waitScreen(bob, /^before-42$/m, "alice's output so far");
    await waitScreen(alice, /^\[porthole\] bob is watching this session$/m, 'the notice to alice');
    log('bob watches from the snapshot; alice is told');

    await alice.keyboard.type('echo live-$((7*8))');
    await alice.keyboard.press('Enter');
    await waitScreen(bob, /^live-56$/m, 'live output');
    // A watch sends no keystrokes.
    await bob.keyboard.type('echo not-sent');
    await bob.waitForTimeout(500);
    assert.doesNotMatch(await screen(alice), /not-sent/);
    await bob.screenshot({ path: join(artifacts, 'sessions-watch.png') });

    // The panel now lists bob as a watcher; he joins.
    await waitText(bob, '#session-list li.live-session .rec-command', /watched by bob$/);
    await bob.locator('#session-list li.live-session button.join-session').click();
    await bob.locator('.pane:not([hidden])[data-watch="join"][data-state="open"]').waitFor({ timeout: WAIT });
    await waitScreen(alice, /^\[porthole\] bob joined this session \(input too\)$/m, 'the join notice');
    await bob.keyboard.type('echo joined-$((8*9))');
    await bob.keyboard.press('Enter');
    await waitScreen(alice, /^joined-72$/m, "bob's command's output on alice's screen");
    await waitScreen(bob, /^joined-72$/m, "bob's command's output on his screen");
    await alice.screenshot({ path: join(artifacts, 'sessions-owner.png') });
    log("bob joins; his command runs in alice's shell");

    // alice ends her shell: bob's tabs end with it.
    await alice.keyboard.type('exit 5');
    await alice.keyboard.press('Enter');
    await bob.locator('.pane:not([hidden])[data-watch="join"][data-state="exited"]').waitFor({ timeout: WAIT });
    assert.equal(await bob.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '5');
    log('the session ended; the joined tab shows its exit code');
  } catch (err) {
    await alice.screenshot({ path: join(artifacts, 'sessions-failure-alice.png') }).catch(() => {});
    await bob.screenshot({ path: join(artifacts, 'sessions-failure-bob.png') }).catch(() => {});
    throw err;
  } finally {
    await context.close().catch(() => {});
    await stopPorthole(server);
    rmSync(profile, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

async function waitText(page, selector, re) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = (await page.locator(selector).first().textContent().catch(() => '')) || '';
    if (re.test(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`${selector} never matched ${re}: ${last}`);
}

main().then(() => {
  log('all checks passed');
  process.exit(0);
}, (err) => {
  console.error(err);
  process.exit(1);
});

// browser.mjs drives Debian's Chromium (through playwright-core, never a
// downloaded browser) against a real `porthole serve` and checks what a
// person would: sign in, list the demo pod, run commands in a terminal and
// read their output from the screen, resize, exit codes, stdin EOF, files,
// attach, a dropped connection and its reconnect, that another origin can
// neither open a session nor frame the page, and the sign-in flow against a
// (fake) API that wants a token.
//
// usage: node test/browser.mjs --porthole BIN [--chromium PATH] [--artifacts DIR]
// Exits 0 when every check passed. Run by web/browser_test.go.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { log, paneState, screen, typeLine, waitPrompt, waitScreen } from './lib.mjs';

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

// pods is what `porthole serve` runs: its demo pod as built in, and "term",
// whose shell runs on a terminal (stdin and tty), for a tty attach.
const podsFile = join(mkdtempSync(join(tmpdir(), 'porthole-browser-')), 'pods.yaml');
writeFileSync(podsFile, `apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default, labels: {app: demo}}
spec:
  containers: [{name: shell, image: porthole/local, command: [sh], stdin: true}]
---
apiVersion: v1
kind: Pod
metadata: {name: term, namespace: default}
spec:
  containers: [{name: shell, image: porthole/local, command: [sh], stdin: true, tty: true}]
`);

// startPorthole runs `porthole serve` on listen and resolves with its URL
// once the banner is printed.
function startPorthole(listen) {
  const proc = spawn(porthole, ['serve', '-f', podsFile, '--listen', listen, '--write-kubeconfig', '', '--plain-http'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
        waitDemoRunning(m[1]).then(() => resolve({ proc, url: m[1] }), reject);
      }
    });
  });
}

// waitDemoRunning polls the API until the demo pod's container runs: the
// banner comes when the server listens, the container may start just after.
async function waitDemoRunning(url) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const pod = await (await fetch(url + '/api/v1/namespaces/default/pods/demo')).json();
      const st = ((pod.status && pod.status.containerStatuses) || [])[0];
      if (st && st.state && st.state.running) return;
      last = JSON.stringify(pod.status);
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('demo pod not running: ' + last);
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

const GOOD_TOKEN = 'the-right-token';
// CAST is a recording as the gateway's recorder writes it.
const CAST = [
  '{"version":2,"width":60,"height":8,"timestamp":1764000000,"title":"alice: exec demo sh"}',
  '[0.05, "o", "$ echo recorded\\r\\n"]',
  '[0.40, "o", "recorded\\r\\n"]',
  '[0.80, "o", "\\u001b[1mend of recording\\u001b[0m\\r\\n"]',
].join('\n') + '\n';
const distDir = fileURLToPath(new URL('../dist/', import.meta.url));
// VIEWONLY_POD is a running pod the fake server's user may see only.
// Its default container (the annotation's) is the second one.
const VIEWONLY_POD = {
  kind: 'Pod', apiVersion: 'v1',
  metadata: { name: 'web-1', namespace: 'viewonly', annotations: { 'kubectl.kubernetes.io/default-container': 'web' } },
  spec: { containers: [{ name: 'sidecar' }, { name: 'web' }] },
  status: { phase: 'Running', containerStatuses: [{ name: 'sidecar', ready: true, state: { running: {} } }, { name: 'web', ready: true, state: { running: {} } }] },
};
// GONE_POD is listed but no longer there; DONE_POD's container has
// stopped.
const GONE_POD = { ...VIEWONLY_POD, metadata: { name: 'gone-1', namespace: 'viewonly' } };
const DONE_POD = {
  kind: 'Pod', apiVersion: 'v1', metadata: { name: 'done-1', namespace: 'viewonly' },
  spec: { containers: [{ name: 'web' }] },
  status: { phase: 'Succeeded', containerStatuses: [{ name: 'web', ready: false, state: { terminated: { exitCode: 0, reason: 'Completed' } } }] },
};
// fake.revoked makes the fake server refuse the token for web-1 (a token
// revoked while the page is open).
const fake = { revoked: false };
// recordingsListed is what the fake server lists; the test adds one while
// the page is open.
const recordingsListed = [{ name: 'demo-1.cast', title: 'alice: exec demo sh', timestamp: 1764000000, width: 60, height: 8, size: CAST.length,
  owner: 'alice', namespace: 'default', pod: 'demo', container: 'shell', command: 'sh -l', verb: 'exec', duration: 0.8 }];
// SLOW_CAST takes 6 s at normal speed.
const SLOW_CAST = [
  '{"version":2,"width":40,"height":5,"timestamp":1764000200}',
  '[0.1, "o", "slow start\\r\\n"]',
  '[6.0, "o", "slow end\\r\\n"]',
].join('\n') + '\n';
const CASTS = { 'demo-1.cast': CAST, 'demo-2.cast': CAST, 'slow-1.cast': SLOW_CAST };
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

// startOther is another origin (another port). It serves a plain page at /,
// and at /ui/ the built page in front of a fake API that, unlike porthole
// serve, wants the bearer token GOOD_TOKEN. The page goes out with csp, the
// Content-Security-Policy porthole serves it with, so that what the policy
// refuses (the recordings player's WebAssembly, say) fails here too.
function startOther(csp) {
  const srv = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path.startsWith('/ui/recordings/')) {
      if (req.headers.authorization !== 'Bearer ' + GOOD_TOKEN) {
        res.writeHead(401);
        return res.end();
      }
      const name = path.slice('/ui/recordings/'.length);
      if (name === '') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ items: recordingsListed }));
      }
      res.writeHead(CASTS[name] ? 200 : 404, { 'Content-Type': 'application/x-asciicast' });
      return res.end(CASTS[name] || '');
    }
    if (path === '/ui/whoami') { // this server checks tokens
      if (req.headers.authorization !== 'Bearer ' + GOOD_TOKEN) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}');
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ user: 'alice', signIn: true }));
    }
    if (path.startsWith('/ui/')) {
      const file = path === '/ui/' ? 'index.html' : path.slice(4);
      res.writeHead(200, { 'Content-Type': types[extname(file)] || 'application/octet-stream', 'Content-Security-Policy': csp });
      return res.end(readFileSync(join(distDir, basename(file))));
    }
    if (path.startsWith('/api/')) {
      if (req.headers.authorization !== 'Bearer ' + GOOD_TOKEN) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}');
      }
      if (path === '/api/v1/namespaces') { // RBAC lets this user list pods, not namespaces
        res.writeHead(403, { 'Content-Type': 'application/json' });
        return res.end('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"namespaces is forbidden: User \\"alice\\" cannot list resource \\"namespaces\\"","reason":"Forbidden","code":403}');
      }
      // Namespace "viewonly" holds a running pod this user may read but
      // not exec into: its exec answers 403 (and so refuses the upgrade).
      if (path === '/api/v1/namespaces/viewonly/pods') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ kind: 'PodList', items: [VIEWONLY_POD, GONE_POD, DONE_POD] }));
      }
      if (fake.revoked && path.startsWith('/api/v1/namespaces/viewonly/pods/web-1')) {
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end('{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}');
      }
      if (path.startsWith('/api/v1/namespaces/viewonly/pods/gone-1')) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', code: 404, message: 'pods "gone-1" not found' }));
      }
      if (path === '/api/v1/namespaces/viewonly/pods/done-1') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify(DONE_POD));
      }
      if (path === '/api/v1/namespaces/viewonly/pods/web-1') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify(VIEWONLY_POD));
      }
      if (path === '/api/v1/namespaces/viewonly/pods/web-1/exec') {
        res.writeHead(403, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403,
          message: 'pods "web-1" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace "viewonly"' }));
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ kind: 'PodList', items: [] }));
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>other origin</title><body>other origin</body>');
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

// waitScreenWithout waits until the active terminal's text does not match
// re and returns it.
async function waitScreenWithout(page, re) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(page);
    if (!re.test(last)) return last;
    await page.waitForTimeout(100);
  }
  throw new Error(`terminal still shows ${re}; screen:\n${last}`);
}

async function openTerminal(page, { command = 'sh', tty = true, mode = 'exec', pod = 'demo' } = {}) {
  await page.locator(`.pod[data-pod="${pod}"] button[data-container="shell"]`).click();
  await page.locator(`input[name="mode"][value="${mode}"]`).check();
  await page.fill('#command', command);
  await page.locator('#tty').setChecked(tty);
  await page.click('#open');
  await paneState(page, 'open');
  if (tty && mode === 'exec') await waitPrompt(page);
}

// sttySize runs stty size in the active tty shell and returns [rows, cols].
async function sttySize(page, tag) {
  await typeLine(page, `echo ${tag}=$(stty size)=`);
  const m = await waitScreen(page, new RegExp(`${tag}=(\\d+) (\\d+)=`), `${tag} stty size`);
  return [Number(m[1]), Number(m[2])];
}

// textBox returns the on-screen box of the last visible occurrence of text
// in the active terminal (a Range over the row's text nodes), or null.
async function textBox(page, text) {
  return page.evaluate((want) => {
    const rows = [...document.querySelectorAll('.pane:not([hidden]) .xterm-rows > div')].reverse();
    for (const row of rows) {
      const nodes = [];
      const walk = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) nodes.push(n);
      const all = nodes.map((n) => n.data).join('').replace(/\u00a0/g, ' ');
      const at = all.lastIndexOf(want);
      if (at < 0) continue;
      const range = document.createRange();
      let off = 0;
      for (const n of nodes) {
        const end = off + n.data.length;
        if (at >= off && at < end) range.setStart(n, at - off);
        if (at + want.length > off && at + want.length <= end) range.setEnd(n, at + want.length - off);
        off = end;
      }
      const r = range.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    }
    return null;
  }, text);
}

async function waitTextBox(page, text) {
  const deadline = Date.now() + WAIT;
  while (Date.now() < deadline) {
    const box = await textBox(page, text);
    if (box) return box;
    await page.waitForTimeout(100);
  }
  throw new Error(`no ${text} on the screen:\n${await screen(page)}`);
}

// rowHeight is the height of the active terminal's rows, in CSS pixels.
async function rowHeight(page) {
  return page.evaluate(() => document.querySelector('.pane:not([hidden]) .xterm-rows > div').getBoundingClientRect().height);
}

const clipboard = (page) => page.evaluate(() => navigator.clipboard.readText());
const setClipboard = (page, text) => page.evaluate((t) => navigator.clipboard.writeText(t), text);

// waitClipboard waits until the clipboard holds want.
async function waitClipboard(page, want, what) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = await clipboard(page);
    if (last === want) return;
    await page.waitForTimeout(50);
  }
  throw new Error(`${what}: the clipboard holds ${JSON.stringify(last)}, want ${JSON.stringify(want)}`);
}

const terminalFocused = (page) => page.evaluate(() => document.activeElement === document.querySelector('.pane:not([hidden]) .xterm-helper-textarea'));

// keyboardChecks runs in the active tty shell: copy on selection and with
// the keys, paste, search in the scrollback, font size, links, tab
// switching and leaving the terminal by keyboard. It leaves the font at
// its default and the one tab it started with.
async function keyboardChecks(page, context, otherURL) {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(page.url()).origin });
  // Selecting copies (a double click selects a word).
  // Boxes are measured once the prompt is back: output that comes later
  // may scroll the screen under the mouse.
  await typeLine(page, 'echo COPY-$((40+2))-ME; echo "$((6*7))"');
  await waitScreen(page, /^42$/m);
  await waitPrompt(page);
  let box = await waitTextBox(page, 'COPY-42-ME');
  await setClipboard(page, 'before');
  await page.mouse.dblclick(box.x + box.width / 2, box.y + box.height / 2);
  await waitClipboard(page, 'COPY-42-ME', 'select to copy');
  // Ctrl+Shift+C copies the selection, and no ^C reaches the shell.
  await setClipboard(page, 'before');
  await page.keyboard.press('Control+Shift+C');
  await waitClipboard(page, 'COPY-42-ME', 'Ctrl+Shift+C');
  // So does Ctrl+C while text is selected.
  await setClipboard(page, 'before');
  await page.keyboard.press('Control+c');
  await waitClipboard(page, 'COPY-42-ME', 'Ctrl+C with a selection');
  assert.doesNotMatch(await screen(page), /\^C/, 'a copy key reached the shell as ^C');
  // Without a selection, Ctrl+C is the shell's again.
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2); // clears the selection
  await page.keyboard.press('Control+c');
  await waitScreen(page, /\^C/, 'the ^C of a Ctrl+C without a selection');
  await waitPrompt(page);
  log('copy: on selection, Ctrl+Shift+C and Ctrl+C with a selection; Ctrl+C without one is ^C');

  // Ctrl+Shift+V pastes the clipboard into the shell.
  await setClipboard(page, 'echo pasted-$((5*5))');
  await page.keyboard.press('Control+Shift+V');
  await waitScreen(page, /^[#$] echo pasted-\$\(\(5\*5\)\)$/m, 'the pasted command at the prompt');
  await page.keyboard.press('Enter');
  await waitScreen(page, /^pasted-25$/m, 'the pasted command\'s output');
  log('paste: Ctrl+Shift+V ran the clipboard\'s command');

  // Search: a line scrolled out of view is found, shown and selected,
  // without replacing the clipboard.
  await typeLine(page, 'echo NEEDLE-$((1+1)); seq 1000 1300');
  await waitScreen(page, /^1300$/m);
  assert.doesNotMatch(await screen(page), /^NEEDLE-2$/m, 'the needle is still on the screen');
  await setClipboard(page, 'before');
  await page.keyboard.press('Control+Shift+F');
  const search = page.locator('.pane:not([hidden]) .search');
  await search.waitFor({ timeout: WAIT });
  assert.equal(await search.evaluate((e) => e === document.activeElement), true, 'the search box has no focus');
  await page.keyboard.type('zzz-nowhere');
  await page.keyboard.press('Enter');
  assert.equal(await search.getAttribute('aria-invalid'), 'true', 'a missing text is not reported');
  await search.fill('needle-2');
  await page.keyboard.press('Enter');
  box = await waitTextBox(page, 'NEEDLE-2');
  const hits = await page.evaluate(() => Array.from(document.querySelectorAll('.pane:not([hidden]) .xterm-selection div'), (d) => {
    const r = d.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  }));
  const over = hits.filter((h) => h.y < box.y + box.height / 2 && h.y + h.height > box.y + box.height / 2 &&
    Math.abs(h.x - box.x) < 2 && Math.abs(h.width - box.width) < 2);
  assert.equal(over.length, 1, `the selection ${JSON.stringify(hits)} does not cover the match ${JSON.stringify(box)}`);
  assert.equal(await clipboard(page), 'before', 'the search replaced the clipboard');
  await page.keyboard.press('Escape');
  assert.equal(await search.isVisible(), false);
  assert.equal(await terminalFocused(page), true, 'Escape did not return to the terminal');
  log('search: a line in the scrollback found, scrolled to and selected');

  // Font size: larger with Ctrl+=, smaller with the bar's button, the
  // default with Ctrl+0; the remote terminal's size follows.
  const [rows0, cols0] = await sttySize(page, 'FONTA');
  const h0 = await rowHeight(page);
  await page.keyboard.press('Control+Equal');
  await page.keyboard.press('Control+Equal');
  const [rows1, cols1] = await sttySize(page, 'FONTB');
  const h1 = await rowHeight(page);
  assert.ok(h1 > h0 && cols1 < cols0 && rows1 < rows0, `Ctrl+= twice: rows ${h0}px ${rows0}x${cols0} -> ${h1}px ${rows1}x${cols1}`);
  for (let i = 0; i < 4; i++) await page.click('.pane:not([hidden]) .font-down');
  await page.locator('.pane:not([hidden]) .xterm-helper-textarea').focus();
  const [rows2, cols2] = await sttySize(page, 'FONTC');
  const h2 = await rowHeight(page);
  assert.ok(h2 < h0 && cols2 > cols0, `A− four times: ${h0}px ${rows0}x${cols0} -> ${h2}px ${rows2}x${cols2}`);
  await page.keyboard.press('Control+0');
  assert.deepEqual(await sttySize(page, 'FONTD'), [rows0, cols0], 'Ctrl+0 did not bring the default size back');
  assert.equal(await rowHeight(page), h0);
  log(`font: rows ${h0}px ${cols0} cols, Ctrl+= ${h1}px ${cols1} cols, A− ${h2}px ${cols2} cols, Ctrl+0 back`);

  // Links: an address printed by the shell opens in a new tab on a click,
  // with no way back to the page.
  const target = otherURL + '/linked?x=1';
  await typeLine(page, `echo "see ${target}."`);
  box = await waitTextBox(page, `see ${target}.`);
  await waitPrompt(page);
  const linkBox = await textBox(page, target);
  await page.mouse.move(linkBox.x + linkBox.width / 2, linkBox.y + linkBox.height / 2);
  await page.locator('.pane:not([hidden]) .xterm-cursor-pointer').waitFor({ timeout: WAIT }); // the link is under the mouse
  const [opened] = await Promise.all([context.waitForEvent('page', { timeout: WAIT }),
    page.mouse.click(linkBox.x + linkBox.width / 2, linkBox.y + linkBox.height / 2)]);
  await opened.waitForLoadState();
  assert.equal(opened.url(), target, 'the link opened the wrong address (the trailing dot is not part of it)');
  assert.equal(await opened.evaluate(() => window.opener), null, 'the linked page can reach the terminal');
  await opened.close();
  await page.locator('.pane:not([hidden]) .xterm-helper-textarea').focus();
  log('link opened in a new tab');

  // Tabs by keyboard: Ctrl+Shift+PageUp/PageDown switch, and typing goes
  // to the shown tab's shell; Ctrl+Shift+Escape leaves the terminal for
  // the tab strip, where the arrows pick a tab and Enter goes back in.
  const activeTab = () => page.evaluate(() => [...document.querySelectorAll('.tab')].findIndex((t) => t.classList.contains('active')));
  assert.equal(await activeTab(), 0);
  await openTerminal(page);
  assert.equal(await page.locator('.tab').count(), 2);
  assert.equal(await activeTab(), 1);
  await page.keyboard.press('Control+Shift+PageUp');
  assert.equal(await activeTab(), 0);
  assert.equal(await terminalFocused(page), true, 'the switched-to terminal has no focus');
  await typeLine(page, 'echo in-$((1+1))-first');
  await waitScreen(page, /^in-2-first$/m);
  await page.keyboard.press('Control+Shift+PageDown');
  assert.equal(await activeTab(), 1);
  await typeLine(page, 'echo in-$((1+1))-second');
  assert.doesNotMatch(await waitScreenWithout(page, /in-2-first/), /in-2-first/);
  await waitScreen(page, /^in-2-second$/m);
  await page.keyboard.press('Control+Shift+Escape');
  assert.equal(await page.evaluate(() => document.activeElement.matches('.tab.active .tab-label[role="tab"][aria-selected="true"]')), true,
    'Ctrl+Shift+Escape did not move the focus to the tab strip');
  await page.keyboard.press('ArrowLeft');
  assert.equal(await activeTab(), 0);
  assert.equal(await page.evaluate(() => document.activeElement.matches('.tab.active .tab-label')), true, 'the arrow key lost the focus');
  await page.keyboard.press('Tab');
  assert.equal(await terminalFocused(page), false, 'Tab did not move on from the tab strip');
  await page.locator('.tab.active .tab-label').focus();
  await page.keyboard.press('Enter');
  assert.equal(await terminalFocused(page), true, 'Enter on a tab did not go back into its terminal');
  await page.keyboard.press('Control+Shift+PageDown');
  await typeLine(page, 'exit');
  await paneState(page, 'exited');
  await page.click('.tab.active .tab-close');
  assert.equal(await page.locator('.tab').count(), 1);
  assert.equal(await activeTab(), 0);
  await page.locator('.pane:not([hidden]) .xterm-helper-textarea').focus();
  assert.match(await page.locator('#keys-list').textContent(), /Ctrl\+Shift\+PageUp \/ PageDown.*previous \/ next tab/);
  log('tabs switched by keyboard, focus left the terminal and came back');
}

async function visibleRows(page) {
  return page.locator('.pane:not([hidden]) .xterm-rows > div').count();
}

async function main() {
  let server = await startPorthole('127.0.0.1:0');
  const csp = (await fetch(server.url + '/ui/', { method: 'HEAD' })).headers.get('content-security-policy');
  assert.ok(csp, 'porthole serve sent no Content-Security-Policy');
  const other = await startOther(csp);
  const otherURL = `http://127.0.0.1:${other.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'porthole-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 800 },
  });
  const page = context.pages()[0] || (await context.newPage());
  try {
    // Drop: the server goes away under a live session, then comes back.
    const port = new URL(server.url).port;
    await run(page, context, server, otherURL, {
      stop: () => stopPorthole(server),
      start: async () => {
        server = await startPorthole('127.0.0.1:' + port);
      },
    });
  } catch (err) {
    await describeFailure(page).catch(() => {});
    throw err;
  } finally {
    await context.close().catch(() => {});
    await stopPorthole(server);
    other.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dirname(podsFile), { recursive: true, force: true });
  }
}

// describeFailure saves a screenshot and prints the tabs' states.
async function describeFailure(page) {
  await page.screenshot({ path: join(artifacts, 'failure.png') });
  const panes = await page.evaluate(() => Array.from(document.querySelectorAll('.pane'), (p) => ({
    hidden: p.hidden, state: p.dataset.state, status: p.querySelector('.status').textContent,
  })));
  const tabs = await page.locator('.tab-label').allTextContents();
  const focus = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 120));
  console.error('browser: at failure: tabs', JSON.stringify(tabs), 'panes', JSON.stringify(panes), 'focus', focus);
}

async function run(page, context, server, otherURL, restart) {
  const problems = [];
  page.on('console', (m) => {
    // Expected: the refused WebSockets of the drop and cross-origin checks,
    // and the browser's own /favicon.ico probe (the page declares none).
    if (m.type() !== 'error' || /WebSocket connection to .* failed/.test(m.text())) return;
    if (/\/favicon\.ico$/.test(m.location().url)) return;
    if (/ERR_CONNECTION_REFUSED/.test(m.text())) return; // while the server is down
    problems.push(m.text() + ' at ' + m.location().url);
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  const requests = [];
  page.on('request', (r) => requests.push(r));
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const handshakes = [];
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => handshakes.push(e.request.headers));

  // The banner's address sends a browser to the terminal, with the headers.
  const resp = await page.goto(server.url, { waitUntil: 'load' });
  assert.equal(new URL(page.url()).pathname, '/ui/');
  const headers = resp.headers();
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.match(headers['content-security-policy'], /script-src 'self'/);

  // porthole serve needs no token: the list shows at once, and nothing
  // speaks of tokens or signing in (the server says so at whoami).
  await page.locator('#app').waitFor({ timeout: WAIT });
  await page.locator('.pod[data-pod="demo"]').waitFor({ timeout: WAIT }); // listed without a token
  assert.deepEqual(await (await fetch(server.url + '/ui/whoami')).json(), { user: 'system:anonymous', signIn: false });
  assert.equal(await page.locator('#signin-open').isVisible(), false, 'Sign in offered by a server that takes none');
  assert.equal(await page.locator('#signout').isVisible(), false);
  assert.doesNotMatch(await page.locator('header').innerText(), /token|sign/i, 'the header speaks of tokens');
  // A token the tab holds (as after signing in elsewhere) is still sent
  // the way a server that checks it wants, and never in a URL.
  const token = 'test-token/with+odd?chars';
  await page.evaluate((t) => sessionStorage.setItem('porthole.token', t), token);
  const signedInAt = requests.length;
  await page.reload();
  await page.locator('.pod[data-pod="demo"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#signin-open').isVisible(), false);
  const demo = page.locator('.pod[data-pod="demo"]');
  await demo.waitFor({ timeout: WAIT });
  assert.match(await demo.textContent(), /Running/);
  assert.match(await demo.locator('button[data-container="shell"]').textContent(), /running/);
  const apiCalls = requests.slice(signedInAt).filter((r) => new URL(r.url()).pathname.startsWith('/api/'));
  assert.ok(apiCalls.some((r) => r.url().endsWith('/api/v1/namespaces/default/pods')), 'no pod list request after sign-in');
  for (const r of apiCalls) assert.equal(r.headers()['authorization'], 'Bearer ' + token, r.url());

  // A terminal: a command and its output on the screen.
  await openTerminal(page);
  const hs = handshakes[handshakes.length - 1];
  const offered = (hs['Sec-WebSocket-Protocol'] || hs['sec-websocket-protocol'] || '').split(/,\s*/);
  assert.deepEqual(offered, ['v5.resume.porthole.dev', 'v5.channel.k8s.io', 'base64url.bearer.authorization.k8s.io.' + Buffer.from(token).toString('base64url')]);
  for (const r of [...requests, ...handshakes]) {
    const url = typeof r.url === 'function' ? r.url() : '';
    assert.ok(!url.includes(encodeURIComponent(token)) && !url.includes(token), 'token in a URL: ' + url);
  }
  // The address names the picked container, for a bookmark.
  assert.equal(new URL(page.url()).hash, '#/default/demo/shell');
  await typeLine(page, 'echo hello-$((6*7))');
  await waitScreen(page, /^hello-42$/m, 'hello-42');
  log('command output read from the terminal');

  // Resize: the tty follows the viewport.
  const [rows1, cols1] = await sttySize(page, 'SIZEA');
  assert.equal(rows1, await visibleRows(page));
  await page.setViewportSize({ width: 820, height: 520 });
  await page.waitForFunction((r) => document.querySelectorAll('.pane:not([hidden]) .xterm-rows > div').length !== r, rows1, { timeout: WAIT });
  const [rows2, cols2] = await sttySize(page, 'SIZEB');
  assert.ok(rows2 < rows1 && cols2 < cols1, `stty size ${rows2}x${cols2} did not shrink from ${rows1}x${cols1}`);
  assert.equal(rows2, await visibleRows(page));
  log(`stty size ${rows1} ${cols1} -> ${rows2} ${cols2}`);
  // A phone: the terminal takes the width (at least 40 columns) and the
  // tab's close button stays on screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction((w) => document.querySelector('.pane:not([hidden]) .xterm-screen').getBoundingClientRect().width <= w, 390, { timeout: WAIT });
  const [rows3, cols3] = await sttySize(page, 'SIZEC');
  assert.ok(cols3 >= 40, `a 390 px wide screen got ${cols3} columns`);
  const close = await page.locator('.tab.active .tab-close').boundingBox();
  assert.ok(close && close.x >= 0 && close.x + close.width <= 390, `the tab's close button is off screen: ${JSON.stringify(close)}`);
  log(`phone: stty size ${rows3} ${cols3}`);
  await page.setViewportSize({ width: 1200, height: 800 });
  await page.waitForFunction((w) => document.querySelector('.pane:not([hidden]) .xterm-screen').getBoundingClientRect().width > w, 800, { timeout: WAIT });
  await typeLine(page, 'ls / | head -5; echo porthole web terminal');
  await waitScreen(page, /^porthole web terminal$/m);
  await page.screenshot({ path: join(artifacts, 'terminal.png') });
  await keyboardChecks(page, context, otherURL);

  // Exit codes: exit 3, then Ctrl-D at the prompt of a new run.
  await typeLine(page, 'exit 3');
  await paneState(page, 'exited');
  assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '3');
  assert.match(await page.locator('.pane:not([hidden]) .status').textContent(), /exited with code 3/);
  await page.screenshot({ path: join(artifacts, 'exit-3.png') });
  await page.click('.pane:not([hidden]) .reconnect');
  await paneState(page, 'open');
  await waitPrompt(page);
  await typeLine(page, 'echo again');
  await waitScreen(page, /^again$/m);
  await page.keyboard.press('Control+d');
  await paneState(page, 'exited');
  assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '0');
  log('exit codes 3 and 0 (Ctrl-D) shown');

  // No tty: Ctrl-D at an empty line sends the v5 close signal; the process
  // reads EOF and its output still arrives before the exit status.
  await openTerminal(page, { command: `sh -c 'cat; echo "eof after $(printf x | wc -c) byte"; exit 5'`, tty: false });
  assert.equal(await page.locator('.tab').count(), 2);
  await typeLine(page, 'piped line');
  await waitScreen(page, /^piped line$/m); // the local echo
  await page.waitForFunction(() => (document.querySelector('.pane:not([hidden]) .xterm-rows').textContent.match(/piped\u00a0line|piped line/g) || []).length >= 2, null, { timeout: WAIT });
  await page.keyboard.press('Control+d');
  await waitScreen(page, /^eof after 1 byte$/m);
  await paneState(page, 'exited');
  assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '5');
  log('close signal delivered stdin EOF');

  // Files: upload into the container and download back, over tar-over-exec.
  await fileRoundTrip(page);

  // A dropped connection: clear message, then Reconnect once the server is back.
  await openTerminal(page);
  await typeLine(page, 'echo before-drop');
  await waitScreen(page, /^before-drop$/m);
  // A shutdown: the server stops taking connections at once and cuts the
  // sessions after a 5 s grace; the tab says so within the grace instead
  // of "connected", then says how the session ended.
  const stopping = restart.stop();
  const stopAt = Date.now();
  await page.locator('.pane:not([hidden])[data-state="closing"] .status', { hasText: /the server (is shutting down|does not answer)/ }).waitFor({ timeout: WAIT });
  const noticed = Date.now() - stopAt;
  assert.ok(noticed < 4000, `the shutdown was shown after ${noticed} ms`);
  await paneState(page, 'dropped');
  assert.match(await page.locator('.pane:not([hidden]) .status').textContent(), /^session ended: the server is shutting down/);
  await stopping;
  log(`shutdown shown after ${noticed} ms`);
  await page.screenshot({ path: join(artifacts, 'dropped.png') });
  await page.click('.pane:not([hidden]) .reconnect'); // while the server is down
  await page.locator('.pane:not([hidden]) .status', { hasText: /^could not connect: server unreachable/ }).waitFor({ timeout: WAIT });
  await restart.start();
  await page.click('.pane:not([hidden]) .reconnect');
  await paneState(page, 'open');
  await waitPrompt(page);
  await typeLine(page, 'echo after-reconnect');
  await waitScreen(page, /^after-reconnect$/m);
  log('drop shown and reconnected');

  // Attach to the demo pod's shell (no tty: the page echoes the line).
  await openTerminal(page, { mode: 'attach' });
  await typeLine(page, 'echo attached-$((2+3))');
  await waitScreen(page, /^attached-5$/m);
  log('attached to the demo pod');

  // An empty command opens bash when the container has it (this machine
  // does), else sh.
  await page.locator('.pod[data-pod="demo"] button[data-container="shell"]').click();
  await page.locator('input[name="mode"][value="exec"]').check();
  await page.fill('#command', '');
  await page.locator('#tty').setChecked(true);
  await page.click('#open');
  await paneState(page, 'open');
  assert.equal(await page.locator('.tab.active .tab-label').textContent(), 'demo/shell: shell');
  await typeLine(page, 'echo "shell=${BASH_VERSION:+bash}"');
  await waitScreen(page, /^shell=bash$/m, 'bash');
  log('an empty command opened bash');

  // A bookmarked address picks its container on load.
  const marked = await context.newPage();
  await marked.goto(server.url + '/ui/#/default/term/shell');
  await marked.locator('#open-form').waitFor({ timeout: WAIT });
  assert.equal(await marked.locator('#open-target').textContent(), 'default/term · shell');
  await marked.close();
  log('a bookmarked address picked its container');

  // A tty attach shows nothing until the program draws: the page says so,
  // as kubectl does, and Enter brings the prompt.
  await openTerminal(page, { mode: 'attach', pod: 'term' });
  await waitScreen(page, /^If you don't see a command prompt, try pressing enter\.$/m, 'the attach hint');
  await typeLine(page, 'echo tty-$((3+4))');
  await waitScreen(page, /^tty-7$/m, 'the tty attach');
  log('attached to a tty, with the hint');

  // Leaving the page with sessions running asks first; so does closing a
  // running session's tab, and declining keeps it.
  const asksToLeave = () => page.evaluate(() => {
    const ev = new Event('beforeunload', { cancelable: true });
    window.dispatchEvent(ev);
    return ev.defaultPrevented;
  });
  assert.equal(await asksToLeave(), true, 'no question before leaving live sessions');
  const tabs = await page.locator('.tab').count();
  const questions = [];
  let answer = false;
  const onDialog = (d) => {
    questions.push(d.message());
    return answer ? d.accept() : d.dismiss();
  };
  page.on('dialog', onDialog);
  await page.locator('.tab-close').last().click();
  assert.equal(await page.locator('.tab').count(), tabs, 'a declined close closed the tab');
  assert.match(questions[0] || '', /^End the running session term\/shell: attach\?$/);
  // Closing tabs ends their sessions.
  answer = true;
  while (await page.locator('.tab').count() > 0) await page.locator('.tab-close').first().click();
  page.off('dialog', onDialog);
  assert.equal(await page.locator('#empty').isVisible(), true);
  assert.equal(await asksToLeave(), false, 'a question before leaving a page without sessions');

  // A picked container whose pod is no longer listed (here: another
  // namespace is listed) is no longer offered as a target.
  await page.locator('.pod[data-pod="demo"] button[data-container="shell"]').click();
  await page.locator('#open-form').waitFor({ timeout: WAIT });
  await page.fill('#namespace', 'nowhere');
  await page.dispatchEvent('#namespace', 'change');
  await page.locator('#pods', { hasText: 'No pods.' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#open-form').isVisible(), false, 'the form still targets a pod that is not listed');
  assert.equal(await page.locator('#files').isVisible(), false);
  await page.fill('#namespace', 'default');
  await page.dispatchEvent('#namespace', 'change');
  await page.locator('.pod[data-pod="demo"]').waitFor({ timeout: WAIT });
  log('a target whose pod is gone is dropped');

  // Another origin: no session, no readable API answer, no frame.
  const samePage = await wsProbe(page, server.url);
  assert.deepEqual(samePage, { opened: true, protocol: 'v5.channel.k8s.io' }, 'same-origin control');
  const evil = await context.newPage();
  await evil.goto(otherURL);
  const cross = await wsProbe(evil, server.url);
  assert.equal(cross.opened, false, 'a page from another origin opened a session');
  const read = await evil.evaluate(async (u) => {
    try {
      await (await fetch(u + '/api/v1/namespaces')).text();
      return 'read';
    } catch (e) {
      return 'refused';
    }
  }, server.url);
  assert.equal(read, 'refused', 'another origin read the API');
  const framed = await evil.evaluate((u) => new Promise((resolve) => {
    const f = document.createElement('iframe');
    f.src = u + '/ui/';
    f.onload = () => {
      try {
        resolve(f.contentDocument ? 'readable' : 'blocked');
      } catch {
        resolve('blocked');
      }
    };
    document.body.append(f);
  }), server.url);
  const frame = evil.frames().find((f) => f !== evil.mainFrame());
  assert.ok(frame, 'no frame');
  assert.notEqual(frame.url(), server.url + '/ui/', 'the page rendered inside another origin\'s frame');
  log(`other origin: websocket refused (close ${cross.code}), fetch ${read}, frame ${framed} at ${frame.url()}`);
  await evil.close();

  await signInFlow(context, otherURL);
  assert.deepEqual(problems, [], 'console errors');
}

// signInFlow runs the page against a server that wants a token: the
// sign-in form first, a refused token, the right one, sign out.
async function signInFlow(context, base) {
  const page = await context.newPage();
  await page.goto(base + '/ui/');
  await page.locator('#signin').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#app').isVisible(), false);
  await page.fill('#token', 'wrong-token');
  await page.click('#signin-submit');
  await page.locator('#signin-error', { hasText: 'The server refused this token.' }).waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('porthole.token')), null);
  await page.fill('#token', GOOD_TOKEN);
  await page.click('#signin-submit');
  await page.locator('#pods', { hasText: 'No pods.' }).waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#signin').isVisible(), false);
  assert.equal(await page.locator('#who').textContent(), 'signed in as alice');
  assert.equal(await page.locator('#signout').isVisible(), true, 'no Sign out on a server that takes sign-ins');
  assert.match(await page.locator('#list-error').textContent(), /Cannot list namespaces \(403: namespaces is forbidden/);
  assert.equal(await page.inputValue('#namespace'), 'default');
  // Recordings: listed for the signed-in user, fetched with the token and
  // played in asciinema-player (WebAssembly under the page's policy), then
  // seeked back and played again with the player's own controls. From here
  // on the console must stay clean: a refused WebAssembly compilation is a
  // CSP violation reported there.
  const problems = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text() + ' at ' + m.location().url));
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  await page.locator('.recording[data-name="demo-1.cast"]').click();
  await page.locator('.pane.player[data-state="ended"]').waitFor({ timeout: WAIT }).catch((err) => {
    throw new Error(`the recording never ended; console errors: ${JSON.stringify(problems)}`, { cause: err });
  });
  await waitScreen(page, /^\$ echo recorded$/m);
  await waitScreen(page, /^recorded$/m);
  await waitScreen(page, /^end of recording$/m);
  await page.screenshot({ path: join(artifacts, 'recording.png') });
  const bar = await page.locator('.pane.player .ap-progressbar .ap-bar').boundingBox();
  assert.ok(bar && bar.width > 0, 'the player shows no progress bar');
  // 55% of the 0.8 s recording: after "recorded" (0.4 s), before the end (0.8 s).
  await page.mouse.click(bar.x + bar.width * 0.55, bar.y + bar.height / 2);
  await waitScreen(page, /^recorded$/m);
  const seeked = await waitScreenWithout(page, /end of recording/);
  assert.match(seeked, /^recorded$/m);
  await page.click('.pane.player .ap-playback-button');
  await waitScreen(page, /^end of recording$/m);
  await page.locator('.pane.player[data-state="ended"]').waitFor({ timeout: WAIT });
  assert.deepEqual(problems, [], 'console errors while playing a recording');
  log('recording listed, played in asciinema-player, seeked and played again');
  // Download saves the recording as the server keeps it.
  const [castDl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.click('.pane.player .download-cast')]);
  assert.equal(castDl.suggestedFilename(), 'demo-1.cast');
  const castPath = join(mkdtempSync(join(tmpdir(), 'porthole-cast-')), 'demo-1.cast');
  await castDl.saveAs(castPath);
  assert.equal(readFileSync(castPath, 'utf8'), CAST, 'the downloaded recording differs');
  rmSync(dirname(castPath), { recursive: true, force: true });
  log('recording downloaded as it is kept');
  // A recording made meanwhile appears without a refresh.
  recordingsListed.unshift({ name: 'demo-2.cast', title: 'alice: exec demo top', timestamp: 1764000100, width: 60, height: 8, size: CAST.length });
  await page.locator('.recording[data-name="demo-2.cast"]').waitFor({ timeout: WAIT });
  log('a new recording listed without a refresh');
  // The list says who, where, what, when and how long, and follows a
  // recording that grows.
  const item = page.locator('.recording[data-name="demo-1.cast"]');
  assert.equal(await item.locator('.rec-user').textContent(), 'alice');
  assert.equal(await item.locator('.rec-pod').textContent(), 'default/demo · shell');
  assert.equal(await item.locator('.rec-command').textContent(), 'sh -l');
  assert.equal(await item.locator('.rec-start').textContent(), await page.evaluate(() => new Date(1764000000 * 1000).toLocaleString()));
  assert.equal(await item.locator('.rec-duration').textContent(), '0:01');
  recordingsListed.find((r) => r.name === 'demo-1.cast').duration = 3725;
  await item.locator('.rec-duration', { hasText: /^1:02:05$/ }).waitFor({ timeout: WAIT });
  log('recordings listed with user, pod, container, command, start and a duration that follows');
  // Speed: at 4x the 6 s recording ends well within 4 s.
  recordingsListed.unshift({ name: 'slow-1.cast', title: 'slow', timestamp: 1764000200, width: 40, height: 5, size: SLOW_CAST.length, duration: 6 });
  await page.locator('.recording[data-name="slow-1.cast"]').click();
  await waitScreen(page, /^slow start$/m);
  const speedAt = Date.now();
  await page.locator('.pane:not([hidden]) .speed').selectOption('4');
  await waitScreen(page, /^slow end$/m);
  const took = Date.now() - speedAt;
  assert.ok(took < 4000, `at 4x the recording took ${took} ms to end (6 s at 1x)`);
  assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-speed'), '4');
  log(`speed 4x: ended ${took} ms after the change`);
  // A user who may read a pod but not exec into it reads why, with the
  // permission the server names, not a network failure.
  await page.fill('#namespace', 'viewonly');
  await page.dispatchEvent('#namespace', 'change');
  // The default container is marked, the annotation's rather than the first.
  await page.locator('.pod[data-pod="web-1"] button[data-container="web"] .default-mark').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('.pod[data-pod="web-1"] .default-mark').count(), 1);
  assert.equal(await page.locator('.pod[data-pod="web-1"] button[data-container="sidecar"] .default-mark').count(), 0);
  await page.locator('.pod[data-pod="web-1"] button[data-container="web"]').click();
  await page.fill('#command', 'sh');
  await page.click('#open');
  const refusal = 'not allowed: pods "web-1" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" in the namespace "viewonly"';
  await page.locator('.pane:not([hidden]) .status', { hasText: refusal }).waitFor({ timeout: WAIT });
  log('a refused exec names the permission');
  // So does a refused upload, on its own line under what failed.
  await page.setInputFiles('#upload-file', { name: 'note.txt', mimeType: 'text/plain', buffer: Buffer.from('note\n') });
  await page.fill('#upload-dir', '/tmp');
  await page.click('#upload');
  await page.locator('#file-status[data-state="failed"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#file-status').textContent(), `upload of note.txt into /tmp failed:\ncould not connect: ${refusal}`);
  const lines = await page.locator('#file-status').evaluate((e) => Math.round(e.getBoundingClientRect().height / parseFloat(getComputedStyle(e).lineHeight)));
  assert.ok(lines >= 2, `the upload error is not shown on its own line (${lines} line)`);
  log('a refused upload names the permission');
  // A pod that is gone, a stopped container and a revoked token are each
  // said for what they are.
  const openOn = async (pod) => {
    await page.locator(`.pod[data-pod="${pod}"] button[data-container="web"]`).click();
    await page.fill('#command', 'sh');
    await page.click('#open');
    return page.locator('.pane:not([hidden]) .status');
  };
  await (await openOn('gone-1')).filter({ hasText: /^could not connect: pod viewonly\/gone-1 not found$/ }).waitFor({ timeout: WAIT });
  await (await openOn('done-1')).filter({ hasText: /^could not connect: container web has stopped \(Completed, exit code 0\)$/ }).waitFor({ timeout: WAIT });
  fake.revoked = true;
  await (await openOn('web-1')).filter({ hasText: /^could not connect: the server no longer accepts your token: sign in again$/ }).waitFor({ timeout: WAIT });
  fake.revoked = false;
  log('a gone pod, a stopped container and a revoked token worded');
  await page.screenshot({ path: join(artifacts, 'signed-in.png') });
  await page.reload(); // the token survives a reload of the tab, and the address keeps the pick
  await page.locator('#open-target', { hasText: 'viewonly/web-1 · web' }).waitFor({ timeout: WAIT });
  await page.click('#signout');
  await page.locator('#signin').waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('porthole.token')), null);
  await page.close();
  log('sign-in flow against a server that wants a token');
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// fileRoundTrip uploads random bytes into a fresh directory (the demo
// pod's processes run on this machine, so the test reads the result from
// disk too), downloads the file again and compares checksums.
async function fileRoundTrip(page) {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-files-'));
  try {
    const content = randomBytes(700 * 1024 + 123);
    const local = join(dir, 'local');
    mkdirSync(local);
    const name = 'upload ümlaut.bin';
    writeFileSync(join(local, name), content);
    const remote = join(dir, 'remote');
    mkdirSync(remote);

    await page.locator('.pod[data-pod="demo"] button[data-container="shell"]').click();
    await page.setInputFiles('#upload-file', join(local, name));
    await page.fill('#upload-dir', remote);
    await page.click('#upload');
    await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
    assert.match(await page.locator('#file-status').textContent(), /^uploaded upload ümlaut\.bin \(700\.1 KiB\) to .* in \d+\.\d s, [\d.]+ [KM]i?B\/s$/);
    const bar = await page.locator('#file-progress').evaluate((p) => [p.value, p.max]);
    assert.deepEqual(bar, [content.length, content.length], 'upload progress not at 100%');
    assert.equal(sha256(readFileSync(join(remote, name))), sha256(content), 'uploaded file differs');

    await page.fill('#download-path', join(remote, name));
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.click('#download')]);
    assert.equal(dl.suggestedFilename(), name);
    const saved = join(dir, 'downloaded');
    await dl.saveAs(saved);
    assert.equal(sha256(readFileSync(saved)), sha256(content), 'downloaded file differs');
    await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
    await page.screenshot({ path: join(artifacts, 'files.png') });

    // An upload into a directory that does not exist reports tar's own
    // error, every time: tar exits while the page still sends the file,
    // which must not turn into "connection closed during upload".
    for (let i = 0; i < 3; i++) {
      await page.setInputFiles('#upload-file', join(local, name));
      await page.fill('#upload-dir', join(remote, 'no-such-dir'));
      await page.click('#upload');
      await page.locator('#file-status[data-state="failed"]').waitFor({ timeout: WAIT });
      const text = await page.locator('#file-status').textContent();
      assert.match(text, /Cannot open: No such file or directory/, `upload ${i + 1} into a missing directory`);
    }

    // A long upload shows its speed and the time left, and Cancel ends
    // it (a sparse 1 GiB file: nothing to write on this side).
    const big = join(local, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, 1 << 30);
    await page.setInputFiles('#upload-file', big);
    await page.fill('#upload-dir', remote);
    await page.click('#upload');
    await page.locator('#file-status', { hasText: /^uploaded [\d.]+ [KM]iB of 1024\.0 MiB · [\d.]+ [KM]iB\/s · \d+:\d\d left$/ }).waitFor({ timeout: WAIT });
    await page.click('#file-cancel');
    await page.locator('#file-status[data-state="failed"]').waitFor({ timeout: WAIT });
    assert.equal(await page.locator('#file-status').textContent(), `upload of big.bin into ${remote} failed:\ncancelled`);
    assert.equal(await page.locator('#file-cancel').isVisible(), false);
    assert.equal(await page.locator('#upload').isDisabled(), false);
    rmSync(join(remote, 'big.bin'), { force: true });

    // A failure is reported, not swallowed.
    await page.fill('#download-path', join(remote, 'missing.bin'));
    await page.click('#download');
    await page.locator('#file-status[data-state="failed"]').waitFor({ timeout: WAIT });
    assert.match(await page.locator('#file-status').textContent(), /missing\.bin/);
    log('file uploaded and downloaded, checksums match');

    // Several files at once, picked or dropped on the panel.
    const many = mkdtempSync(join(dir, 'many-'));
    const picked = { 'one.txt': randomBytes(1000), 'two.bin': randomBytes(70 * 1024) };
    for (const [n, c] of Object.entries(picked)) writeFileSync(join(local, n), c);
    await page.setInputFiles('#upload-file', Object.keys(picked).map((n) => join(local, n)));
    await page.fill('#upload-dir', many);
    await page.click('#upload');
    await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
    assert.match(await page.locator('#file-status').textContent(), /^uploaded 2 files \(one\.txt, two\.bin\) \(71\.0 KiB\)/);
    for (const [n, c] of Object.entries(picked)) assert.equal(sha256(readFileSync(join(many, n))), sha256(c), n);
    const dropped = { 'dropped-a.txt': 'first dropped file\n', 'dropped-b.txt': 'second\n' };
    const dt = await page.evaluateHandle((files) => {
      const d = new DataTransfer();
      for (const [n, c] of Object.entries(files)) d.items.add(new File([c], n));
      return d;
    }, dropped);
    await page.dispatchEvent('#files', 'drop', { dataTransfer: dt });
    await page.locator('#file-status[data-state="done"]', { hasText: 'dropped-a.txt, dropped-b.txt' }).waitFor({ timeout: WAIT });
    for (const [n, c] of Object.entries(dropped)) assert.equal(readFileSync(join(many, n), 'utf8'), c, n);
    log('several files uploaded, picked and dropped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// wsProbe opens an exec WebSocket on the demo pod from page and reports
// whether it opened, as a page script (any site's) would.
function wsProbe(page, base) {
  const url = base.replace(/^http/, 'ws') + '/api/v1/namespaces/default/pods/demo/exec?command=true&container=shell&stdout=true';
  return page.evaluate((u) => new Promise((resolve) => {
    const ws = new WebSocket(u, ['v5.channel.k8s.io']);
    ws.onopen = () => {
      resolve({ opened: true, protocol: ws.protocol });
      ws.close();
    };
    ws.onclose = (ev) => resolve({ opened: false, code: ev.code });
  }), url);
}

const overall = setTimeout(() => {
  console.error('browser: timed out');
  process.exit(2);
}, 240000);
main().then(() => {
  clearTimeout(overall);
  log('all checks passed');
}, (err) => {
  clearTimeout(overall);
  console.error('browser: FAIL:', err.stack || err);
  process.exitCode = 1;
});

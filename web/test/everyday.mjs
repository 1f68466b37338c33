// everyday.mjs checks the web terminal on small screens and with the
// commands people type, against a real `porthole serve`: 360x740 and
// 390x844 viewports get at least 40 columns, the sidebar hides and shows
// by its button and by keyboard (Ctrl+Shift+L), a new terminal in a
// container without bash gets sh, and a command typed with quotes reaches
// the process with each argument whole, a container kubectl debug added
// is listed and can be attached to, and a folder uploaded and
// downloaded again (as a .tar) has the same files (checksums).
//
// usage: node test/everyday.mjs --porthole BIN [--chromium PATH] [--artifacts DIR]
// Run by web/browser_test.go.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import {
  WAIT, args, chromiumArgs, consoleProblems, log, openTerminal, paneState, run, startServe, stopServe, typeLine,
  waitPrompt, waitScreen,
} from './lib.mjs';

const opts = args();
mkdirSync(opts.artifacts, { recursive: true });

// sttySize runs stty size in the active tty shell and returns [rows, cols].
async function sttySize(page, tag) {
  await typeLine(page, `echo ${tag}=$(stty size)=`);
  const m = await waitScreen(page, new RegExp(`${tag}=(\\d+) (\\d+)=`), `${tag} stty size`);
  return [Number(m[1]), Number(m[2])];
}

const sideVisible = (page) => page.locator('#side').isVisible();
const terminalFocused = (page) => page.evaluate(() => document.activeElement === document.querySelector('.pane:not([hidden]) .xterm-helper-textarea'));

// smallScreen opens a page at width x height: the list shows over the
// empty work area, a terminal hides it and gets 40 columns or more, and
// the list comes back over the terminal by button and by keyboard without
// changing the terminal's size.
async function smallScreen(context, url, width, height) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  await page.goto(url + '/ui/');
  await page.locator('.pod[data-pod="demo"]').waitFor({ timeout: WAIT });
  assert.equal(await sideVisible(page), true, 'no pod list on a new page');
  assert.equal(await page.locator('#side-toggle').getAttribute('aria-expanded'), 'true');
  await openTerminal(page);
  assert.equal(await sideVisible(page), false, `${width} px: the list still covers the terminal`);
  assert.equal(await page.locator('#side-toggle').getAttribute('aria-expanded'), 'false');
  const [rows, cols] = await sttySize(page, 'NARROW');
  assert.ok(cols >= 40, `a ${width} px wide screen got ${cols} columns`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= width, `the page is ${overflow} px wide on a ${width} px screen`);
  const close = await page.locator('.tab.active .tab-close').boundingBox();
  assert.ok(close && close.x >= 0 && close.x + close.width <= width, `the tab's close button is off screen: ${JSON.stringify(close)}`);
  // The button shows the list over the terminal, and hides it.
  await page.click('#side-toggle');
  assert.equal(await sideVisible(page), true, 'the button did not show the list');
  assert.equal(await page.locator('#side-toggle').getAttribute('aria-expanded'), 'true');
  const box = await page.locator('#side').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= width, `the list is off screen: ${JSON.stringify(box)}`);
  await page.click('#side-toggle');
  assert.equal(await sideVisible(page), false, 'the button did not hide the list');
  // So does Ctrl+Shift+L from the terminal: the list takes the focus, and
  // gives it back to the terminal as it hides.
  await page.locator('.pane:not([hidden]) .xterm-helper-textarea').focus();
  await page.keyboard.press('Control+Shift+L');
  assert.equal(await sideVisible(page), true, 'Ctrl+Shift+L did not show the list');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'namespace', 'the shown list has no focus');
  await page.keyboard.press('Control+Shift+L');
  assert.equal(await sideVisible(page), false, 'Ctrl+Shift+L did not hide the list');
  assert.equal(await terminalFocused(page), true, 'the terminal did not get the focus back');
  assert.deepEqual(await sttySize(page, 'AFTER'), [rows, cols], 'the list over the terminal changed its size');
  await page.screenshot({ path: join(opts.artifacts, `narrow-${width}.png`) });
  await typeLine(page, 'exit');
  await paneState(page, 'exited');
  await page.close();
  log(`${width}x${height}: ${cols} columns, list toggled by button and by Ctrl+Shift+L`);
}

// wideScreen: hiding the list gives the terminal its width, and the
// choice survives a reload.
async function wideScreen(context, url) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1000, height: 700 });
  await page.goto(url + '/ui/');
  await openTerminal(page);
  assert.equal(await sideVisible(page), true, 'opening a terminal hid the list of a wide window');
  const [, cols] = await sttySize(page, 'WIDEA');
  await page.keyboard.press('Control+Shift+L');
  assert.equal(await sideVisible(page), false);
  assert.equal(await terminalFocused(page), true);
  await page.waitForFunction((c) => document.querySelector('.pane:not([hidden]) .xterm-rows > div') &&
    document.querySelector('.pane:not([hidden]) .xterm-screen').getBoundingClientRect().width > c, 700, { timeout: WAIT });
  const [, wider] = await sttySize(page, 'WIDEB');
  assert.ok(wider > cols + 20, `hiding the list: ${cols} -> ${wider} columns`);
  await typeLine(page, 'exit');
  await paneState(page, 'exited');
  await page.reload();
  await page.locator('#app').waitFor({ timeout: WAIT });
  assert.equal(await sideVisible(page), false, 'the hidden list came back on reload');
  await page.click('#side-toggle');
  assert.equal(await sideVisible(page), true);
  await page.close();
  log(`wide: hiding the list took the terminal from ${cols} to ${wider} columns; kept across a reload`);
}

// shellFallback: an empty command in a container without bash opens sh.
async function shellFallback(context, url) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1000, height: 700 });
  await page.goto(url + '/ui/');
  await page.locator('.pod[data-pod="nobash"] button[data-container="shell"] .cstate', { hasText: /^running$/ }).waitFor({ timeout: WAIT })
    .catch(async (err) => {
      throw new Error(`nobash is not running: ${await page.locator('.pod[data-pod="nobash"]').textContent()}`, { cause: err });
    });
  await page.locator('.pod[data-pod="nobash"] button[data-container="shell"]').click();
  await page.fill('#command', '');
  await page.locator('#tty').setChecked(true);
  await page.click('#open');
  await paneState(page, 'open');
  await waitPrompt(page);
  assert.equal(await page.locator('.tab.active .tab-label').textContent(), 'nobash/shell: shell');
  await typeLine(page, 'echo "bash=[${BASH_VERSION}] shell=$0 $(command -v bash || echo no-bash-here)"');
  await waitScreen(page, /^bash=\[\] shell=sh no-bash-here$/m, 'sh without bash');
  await typeLine(page, 'exit');
  await paneState(page, 'exited');
  await page.close();
  log('an empty command in a container without bash opened sh');
}

// quoting: each quoted argument reaches the process whole.
async function quoting(context, url) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1000, height: 700 });
  await page.goto(url + '/ui/');
  const command = `printf '<%s>\\n' "two words" 'single "double" inside' "it's" back\\ slash '' "tab\\there" 'dollar $HOME' "say \\"hi\\""`;
  await openTerminal(page, { command, tty: false, until: 'exited' });
  assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '0');
  const want = ['<two words>', '<single "double" inside>', "<it's>", '<back slash>', '<>', '<tab\\there>', '<dollar $HOME>', '<say "hi">'];
  const text = await page.evaluate(() => Array.from(document.querySelectorAll('.pane:not([hidden]) .xterm-rows > div'),
    (r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).filter((l) => l.startsWith('<')));
  assert.deepEqual(text, want, 'arguments as the process got them');
  await page.close();
  log('quoted arguments reached the process whole');
}

// ephemeral: a container kubectl debug added to a running pod (its
// ephemeralcontainers subresource, patched as kubectl does) shows in the
// list, marked, and one attaches to it from the page as to any other,
// with the tty it has.
async function ephemeral(context, url) {
  const patch = { spec: { ephemeralContainers: [{ name: 'dbg', image: 'busybox', command: ['sh'], stdin: true, tty: true }] } };
  const path = `${url}/api/v1/namespaces/default/pods/nobash`;
  const res = await fetch(`${path}/ephemeralcontainers`, {
    method: 'PATCH', headers: { 'Content-Type': 'application/strategic-merge-patch+json' }, body: JSON.stringify(patch),
  });
  assert.equal(res.status, 200, `kubectl debug's patch: ${res.status} ${await res.text()}`);
  for (const deadline = Date.now() + WAIT; ;) {
    const st = ((await (await fetch(path)).json()).status.ephemeralContainerStatuses || [])[0];
    if (st && st.state && st.state.running) break;
    assert.ok(Date.now() < deadline, `the ephemeral container never ran: ${JSON.stringify(st)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const page = await context.newPage();
  await page.setViewportSize({ width: 1000, height: 700 });
  await page.goto(url + '/ui/');
  const button = page.locator('.pod[data-pod="nobash"] button[data-container="dbg"]');
  await button.locator('.cstate', { hasText: /^running$/ }).waitFor({ timeout: WAIT });
  assert.equal(await button.locator('.ephemeral-mark').textContent(), 'ephemeral');
  assert.equal(await page.locator('.pod[data-pod="nobash"] button[data-container="shell"] .ephemeral-mark').count(), 0);
  await openTerminal(page, { mode: 'attach', pod: 'nobash', container: 'dbg' });
  await waitScreen(page, /^If you don't see a command prompt, try pressing enter\.$/m, 'the attach hint');
  await typeLine(page, 'echo debug-$((6*7))');
  await waitScreen(page, /^debug-42$/m, 'the ephemeral container\'s shell');
  await page.close();
  log('attached to an ephemeral container, listed and marked');
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// folderRoundTrip uploads a folder (nested, non-ASCII and long paths)
// into the demo pod, checks it on disk (the demo's processes run on this
// machine), downloads it again as a .tar and checks what GNU tar
// extracts; then cancels a long download.
async function folderRoundTrip(context, url, dir) {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1000, height: 800 });
  await page.goto(url + '/ui/');
  const local = join(dir, 'local');
  const files = {
    'a.txt': randomBytes(100),
    'sub/b.bin': randomBytes(300 * 1024 + 7),
    'sub/deep/ümlaut é.txt': Buffer.from('non-ASCII name\n'),
    ['sub/' + 'long-'.repeat(25) + '/' + 'name-'.repeat(20) + '.dat']: randomBytes(2000),
  };
  for (const [p, data] of Object.entries(files)) {
    mkdirSync(join(local, 'tree', p, '..'), { recursive: true });
    writeFileSync(join(local, 'tree', p), data);
  }
  const remote = join(dir, 'remote');
  mkdirSync(remote);
  await page.locator('.pod[data-pod="demo"] button[data-container="shell"]').click();
  await page.setInputFiles('#upload-folder', join(local, 'tree'));
  await page.fill('#upload-dir', remote);
  await page.click('#upload');
  await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
  assert.match(await page.locator('#file-status').textContent(), /^uploaded tree \(4 files\) \(302\.1 KiB\) to .* in \d+\.\d s, [\d.]+ [KM]i?B\/s$/);
  for (const [p, data] of Object.entries(files)) assert.equal(sha256(readFileSync(join(remote, 'tree', p))), sha256(data), `uploaded ${p}`);
  log('folder uploaded: 4 files, checksums match');

  await page.fill('#download-path', join(remote, 'tree'));
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.click('#download')]);
  assert.equal(dl.suggestedFilename(), 'tree.tar');
  const tarPath = join(dir, 'tree.tar');
  await dl.saveAs(tarPath);
  await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
  assert.match(await page.locator('#file-status').textContent(), /^downloaded the folder as tree\.tar \([\d.]+ KiB\)/);
  const back = join(dir, 'back');
  mkdirSync(back);
  execFileSync('tar', ['-xf', tarPath, '-C', back]);
  for (const [p, data] of Object.entries(files)) assert.equal(sha256(readFileSync(join(back, 'tree', p))), sha256(data), `downloaded ${p}`);
  log('folder downloaded as tree.tar: the same 4 files');

  // A folder dropped on the panel (a real drag through Chromium's input,
  // files from disk) is uploaded whole, empty subfolder included.
  const dropDir = join(local, 'dropped');
  mkdirSync(join(dropDir, 'empty'), { recursive: true });
  mkdirSync(join(dropDir, 'in'), { recursive: true });
  const dropFiles = { 'x.txt': randomBytes(50), 'in/y.bin': randomBytes(90 * 1024) };
  for (const [p, data] of Object.entries(dropFiles)) writeFileSync(join(dropDir, p), data);
  const into = join(dir, 'dropped-into');
  mkdirSync(into);
  await page.fill('#upload-dir', into);
  const zone = await page.locator('#files').boundingBox();
  const cdp = await context.newCDPSession(page);
  const at = { x: zone.x + zone.width / 2, y: zone.y + 20 };
  const data = { items: [], files: [dropDir], dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) await cdp.send('Input.dispatchDragEvent', { type, ...at, data });
  await page.locator('#file-status[data-state="done"]', { hasText: /^uploaded dropped \(2 files\)/ }).waitFor({ timeout: WAIT });
  for (const [p, d] of Object.entries(dropFiles)) assert.equal(sha256(readFileSync(join(into, 'dropped', p))), sha256(d), `dropped ${p}`);
  assert.equal(statSync(join(into, 'dropped', 'empty')).isDirectory(), true, 'the empty folder was not made');
  log('a dropped folder uploaded whole, empty subfolder included');

  // A long download shows its speed and time left; Cancel ends it.
  const big = join(remote, 'big.bin');
  writeFileSync(big, '');
  truncateSync(big, 512 << 20);
  await page.fill('#download-path', big);
  await page.click('#download');
  await page.locator('#file-status', { hasText: /^downloaded [\d.]+ [KM]iB of 512\.0 MiB · [\d.]+ [KM]iB\/s · \d+:\d\d left$/ }).waitFor({ timeout: WAIT });
  await page.click('#file-cancel');
  await page.locator('#file-status[data-state="failed"]').waitFor({ timeout: WAIT });
  assert.equal(await page.locator('#file-status').textContent(), `download of ${big} failed:\ncancelled`);
  assert.equal(await page.locator('#download').isDisabled(), false);
  await page.close();
  log('a long download showed speed and time left, and was cancelled');
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-everyday-'));
  // nobash's PATH holds sh and the few tools the checks use, no bash.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const t of ['sh', 'stty', 'printf', 'sleep']) symlinkSync(t === 'sh' ? '/bin/sh' : `/usr/bin/${t}`, join(bin, t));
  const podsFile = join(dir, 'pods.yaml');
  writeFileSync(podsFile, `apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default}
spec:
  containers: [{name: shell, image: porthole/local, command: [sh], stdin: true}]
---
apiVersion: v1
kind: Pod
metadata: {name: nobash, namespace: default}
spec:
  containers: [{name: shell, image: porthole/local, command: [sh, -c, 'exec sleep 3600'], env: [{name: PATH, value: ${JSON.stringify(bin)}}]}]
`);
  let server = null;
  let context = null;
  try {
    server = await startServe(opts.porthole, podsFile);
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: opts.chromium, headless: true, args: chromiumArgs, viewport: { width: 1000, height: 700 },
    });
    const problems = [];
    context.on('page', (p) => problems.push(consoleProblems(p)));
    await smallScreen(context, server.url, 360, 740);
    await smallScreen(context, server.url, 390, 844);
    await wideScreen(context, server.url);
    await shellFallback(context, server.url);
    await quoting(context, server.url);
    await ephemeral(context, server.url);
    await folderRoundTrip(context, server.url, dir);
    assert.deepEqual(problems.flat(), [], 'console errors');
  } finally {
    if (context) await context.close().catch(() => {});
    await stopServe(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);

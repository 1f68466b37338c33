// resume.mjs checks that the web terminal resumes a session whose
// connection is cut (stalled, then reset), through `porthole serve` with
// --session-resume-grace and a cutting TCP relay in front of it: the same
// shell goes on (a variable set before the cut is still there), output
// that flowed across the cut is on the screen once and in order, what was
// typed into the stalled connection arrives once, and files downloaded and
// uploaded across a cut have the same checksums.
//
// usage: node test/resume.mjs --porthole BIN [--chromium PATH] [--artifacts DIR]
// Run by web/browser_test.go.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import {
  WAIT, args, chromiumArgs, consoleProblems, log, openTerminal, paneState, run, screen, startRelay, startServe,
  stopServe, typeLine, waitPrompt, waitScreen,
} from './lib.mjs';

const opts = args();
mkdirSync(opts.artifacts, { recursive: true });
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// watchStates records the states the shown pane goes through from now on
// in window.paneStates (a resume can pass faster than a poll).
function watchStates(page) {
  return page.evaluate(() => {
    window.paneStates = [];
    if (window.paneObserver) window.paneObserver.disconnect();
    const pane = document.querySelector('.pane:not([hidden])');
    window.paneObserver = new MutationObserver(() => window.paneStates.push(pane.dataset.state));
    window.paneObserver.observe(pane, { attributes: true, attributeFilter: ['data-state'] });
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-resume-'));
  const podsFile = join(dir, 'pods.yaml');
  writeFileSync(podsFile, `apiVersion: v1
kind: Pod
metadata: {name: demo, namespace: default}
spec:
  containers: [{name: shell, image: porthole/local, command: [sh], stdin: true}]
`);
  let server = null;
  let relay = null;
  let context = null;
  let page = null;
  try {
    server = await startServe(opts.porthole, podsFile, ['--session-resume-grace', '1m']);
    relay = await startRelay(new URL(server.url).host);
    const profile = join(dir, 'profile');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium, headless: true, args: chromiumArgs, viewport: { width: 1200, height: 900 },
    });
    page = context.pages()[0] || (await context.newPage());
    // Requests that meet a cut fail; nothing else may.
    const problems = consoleProblems(page, (text) => /ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE|Failed to fetch|net::ERR_/.test(text));
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const handshakes = [];
    cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => handshakes.push(e.request));
    await page.goto(relay.url + '/ui/');
    await page.locator('.pod[data-pod="demo"]').waitFor({ timeout: WAIT });

    await openTerminal(page);
    const hs = handshakes[handshakes.length - 1];
    assert.equal(hs.headers['Sec-WebSocket-Protocol'], 'v5.resume.porthole.dev, v5.channel.k8s.io', 'the page did not offer resume first');
    await typeLine(page, 'V=kept-$((6*7)); echo "pid=$$"');
    const pid = (await waitScreen(page, /^pid=(\d+)$/m))[1];
    await waitPrompt(page);

    // Output flowing across a cut: each tick once, in order.
    await typeLine(page, 'clear; i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo "tick-$i"; sleep 0.1; done; echo "ticks-done-$V"');
    await waitScreen(page, /^tick-8$/m);
    await watchStates(page);
    await relay.cut(700);
    await page.waitForFunction(() => window.paneStates.join(' ').endsWith('resuming open'), null, { timeout: WAIT });
    assert.equal(await page.locator('.pane:not([hidden]) .status').textContent(), 'connected (resumed)');
    await waitScreen(page, /^ticks-done-kept-42$/m);
    await waitPrompt(page);
    const text = await screen(page);
    const ticks = [...text.matchAll(/^tick-(\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ticks, Array.from({ length: 30 }, (_, i) => i + 1), `ticks on the screen:\n${text}`);
    assert.equal((text.match(/^\[connection lost for \d+\.\d s; session resumed\]$/gm) || []).length, 1, `one notice line:\n${text}`);
    log('output across a cut: 30 ticks once each, in order, with one notice line');

    // Typed into a stalled connection: the bytes die with it, the page
    // sends them again on the resumed one, and the same shell runs them.
    await typeLine(page, 'clear');
    await waitPrompt(page);
    await watchStates(page);
    const stall = relay.cut(1500);
    await page.waitForTimeout(200);
    await typeLine(page, 'echo "typed-$V-pid=$$"');
    await stall;
    await page.waitForFunction(() => window.paneStates.join(' ').endsWith('resuming open'), null, { timeout: WAIT });
    await waitScreen(page, /^typed-kept-42-pid=\d+$/m);
    await waitPrompt(page);
    const after = await screen(page);
    assert.equal((after.match(/^typed-kept-42-pid=(\d+)$/gm) || []).length, 1, `typed once:\n${after}`);
    assert.equal(after.match(/^typed-kept-42-pid=(\d+)$/m)[1], pid, 'another shell answered');
    assert.equal((after.match(/echo "typed-\$V-pid=\$\$"/g) || []).length, 1, `the command echoed once:\n${after}`);
    await page.screenshot({ path: join(opts.artifacts, 'resumed.png') });
    log(`typed into a stalled connection: run once by the same shell (pid ${pid})`);

    // Files across a cut: a download cut at 3 MiB and an upload cut at
    // 3 MiB arrive whole (checksums), each on a resumed session.
    const remote = join(dir, 'remote');
    mkdirSync(remote);
    const data = randomBytes(12 * 1024 * 1024 + 17);
    writeFileSync(join(remote, 'down.bin'), data);
    await page.fill('#download-path', join(remote, 'down.bin'));
    let cuts = relay.cuts;
    const downCut = relay.cutAfter(3 << 20, 'down', 300);
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.click('#download')]);
    await downCut;
    assert.equal(relay.cuts, cuts + 1);
    const saved = join(dir, 'saved.bin');
    await dl.saveAs(saved);
    assert.equal(sha256(readFileSync(saved)), sha256(data), 'the download cut at 3 MiB differs');
    await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
    log('download of 12 MiB cut at 3 MiB: checksum matches');

    const local = join(dir, 'up.bin');
    const up = randomBytes(10 * 1024 * 1024 + 5);
    writeFileSync(local, up);
    await page.setInputFiles('#upload-file', local);
    await page.fill('#upload-dir', remote);
    cuts = relay.cuts;
    const upCut = relay.cutAfter(3 << 20, 'up', 300);
    await page.click('#upload');
    await upCut;
    await page.locator('#file-status[data-state="done"]').waitFor({ timeout: WAIT });
    assert.equal(relay.cuts, cuts + 1);
    assert.equal(sha256(readFileSync(join(remote, 'up.bin'))), sha256(up), 'the upload cut at 3 MiB differs');
    log('upload of 10 MiB cut at 3 MiB: checksum matches');

    // The session still ends as sessions do: exit code, clean close.
    await page.locator('.tab.active .tab-label').click();
    await typeLine(page, 'exit 4');
    await paneState(page, 'exited');
    assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '4');

    // A process that ends while its connection is down: the resume
    // brings its last output and its exit code.
    await openTerminal(page);
    await typeLine(page, 'echo "pid2=$$"');
    const pid2 = Number((await waitScreen(page, /^pid2=(\d+)$/m))[1]);
    await waitPrompt(page);
    await watchStates(page);
    const down = relay.cut(1500);
    await page.waitForTimeout(300);
    process.kill(pid2, 'SIGKILL');
    await down;
    await paneState(page, 'exited');
    assert.equal(await page.locator('.pane:not([hidden])').getAttribute('data-exit-code'), '137');
    assert.match((await page.evaluate(() => window.paneStates)).join(' '), /resuming/);
    log('a process killed while the connection was down: exit code 137 after the resume');
    assert.deepEqual(problems, [], 'console errors');
  } catch (err) {
    if (page) {
      await page.screenshot({ path: join(opts.artifacts, 'resume-failure.png') }).catch(() => {});
      const st = await page.evaluate(() => Array.from(document.querySelectorAll('.pane'), (p) => `${p.dataset.state}: ${p.querySelector('.status').textContent}`)).catch(() => []);
      console.error('browser: at failure: panes', JSON.stringify(st), 'files:', await page.locator('#file-status').textContent().catch(() => ''));
    }
    throw err;
  } finally {
    if (context) await context.close().catch(() => {});
    if (relay) relay.close();
    await stopServe(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);

// lib.mjs holds what the browser scripts share: a `porthole serve` to test
// against, a TCP relay that cuts connections, and reading the terminal's
// screen. (browser.mjs predates it and keeps its own copies.)
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import assert from 'node:assert/strict';

export const WAIT = 30000; // bound on every single wait, in ms

export function log(...a) {
  console.log('browser:', ...a);
}

export function args() {
  const a = Object.fromEntries(process.argv.slice(2).reduce((acc, x, i, all) => {
    if (x.startsWith('--')) acc.push([x.slice(2), all[i + 1]]);
    return acc;
  }, []));
  assert.ok(a.porthole, '--porthole BIN is required');
  return { porthole: a.porthole, chromium: a.chromium || '/usr/bin/chromium', artifacts: a.artifacts || 'test-artifacts' };
}

export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// startServe runs `porthole serve -f podsFile` with extra flags on a
// loopback port and resolves with {proc, url} once its banner is printed
// and pod (default/NAME) runs.
export function startServe(porthole, podsFile, extra = [], pod = 'demo') {
  const proc = spawn(porthole, ['serve', '-f', podsFile, '--listen', '127.0.0.1:0', '--write-kubeconfig', '', '--plain-http', ...extra],
    { stdio: ['ignore', 'pipe', 'inherit'] });
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
        waitRunning(m[1], pod).then(() => resolve({ proc, url: m[1] }), reject);
      }
    });
  });
}

async function waitRunning(url, pod) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const p = await (await fetch(`${url}/api/v1/namespaces/default/pods/${pod}`)).json();
      const st = ((p.status && p.status.containerStatuses) || [])[0];
      if (st && st.state && st.state.running) return;
      last = JSON.stringify(p.status);
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pod ${pod} not running: ${last}`);
}

export function stopServe(p) {
  return new Promise((resolve) => {
    if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return resolve();
    const kill = setTimeout(() => p.proc.kill('SIGKILL'), WAIT);
    p.proc.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    p.proc.kill('SIGTERM');
  });
}

// startRelay relays a loopback port to target (host:port). cut(stall)
// stalls every connection relayed so far (what arrives either way is
// dropped, as by a network that lost the peer) for stall ms, then resets
// both sockets of each (an RST, not a clean close); later connections
// relay normally. cutAfter(n, dir, stall) arms one cut for when a
// connection has passed more than n bytes toward dir ('down': to the
// browser, 'up': to the server), inside that passing. cuts counts them.
export function startRelay(target) {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  let pairs = new Set();
  const relay = { cuts: 0, armed: null };
  relay.cut = async (stall) => {
    const ps = [...pairs];
    pairs = new Set();
    relay.cuts++;
    for (const p of ps) p.stalled = true;
    await new Promise((r) => setTimeout(r, stall));
    for (const p of ps) {
      p.down.resetAndDestroy();
      p.up.resetAndDestroy();
    }
  };
  relay.cutAfter = (n, dir, stall) => new Promise((resolve) => {
    relay.armed = { n, dir, stall, resolve };
  });
  const srv = createServer((down) => {
    const up = connect(port, host);
    const p = { down, up, stalled: false, passed: { down: 0, up: 0 } };
    pairs.add(p);
    const pipe = (src, dst, dir) => {
      src.on('data', (b) => {
        if (p.stalled) return;
        dst.write(b);
        p.passed[dir] += b.length;
        const a = relay.armed;
        if (a && a.dir === dir && p.passed[dir] > a.n) {
          relay.armed = null;
          relay.cut(a.stall).then(a.resolve);
        }
      });
      src.on('end', () => p.stalled || dst.end());
      src.on('error', () => dst.destroy());
      src.on('close', () => {
        pairs.delete(p);
        if (!p.stalled) dst.destroy();
      });
    };
    pipe(down, up, 'up');
    pipe(up, down, 'down');
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    relay.url = `http://127.0.0.1:${srv.address().port}`;
    relay.close = () => {
      for (const p of pairs) {
        p.down.destroy();
        p.up.destroy();
      }
      srv.close();
    };
    resolve(relay);
  }));
}

// screen returns the visible text of the active terminal, one line a row.
export async function screen(page) {
  return page.evaluate(() => {
    // A terminal's rows, or a recording player's lines.
    const rows = document.querySelectorAll('.pane:not([hidden]) .xterm-rows > div, .pane:not([hidden]) .ap-term-text .ap-line');
    return Array.from(rows, (r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n');
  });
}

// waitScreen waits until the active terminal's text matches re and returns the last match.
export async function waitScreen(page, re, what) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(page);
    const all = [...last.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g'))];
    if (all.length > 0) return all[all.length - 1];
    await page.waitForTimeout(100);
  }
  throw new Error(`terminal never showed ${what || re}; screen:\n${last}`);
}

export async function paneState(page, state) {
  await page.locator(`.pane:not([hidden])[data-state="${state}"]`).waitFor({ timeout: WAIT });
}

// waitPrompt waits for the shell's prompt on the last line.
export async function waitPrompt(page) {
  const deadline = Date.now() + WAIT;
  let last = '';
  while (Date.now() < deadline) {
    last = await screen(page);
    const lines = last.split('\n').filter((l) => l.trim() !== '');
    if (lines.length > 0 && /^[#$]$/.test(lines[lines.length - 1].trim())) return;
    await page.waitForTimeout(100);
  }
  throw new Error(`no shell prompt; screen:\n${last}`);
}

export async function typeLine(page, text) {
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

// openTerminal picks pod's container and opens a terminal running command.
// until is the pane state to wait for: 'open', or 'exited' for a command
// that may end before its tab shows it open.
export async function openTerminal(page, { command = 'sh', tty = true, mode = 'exec', pod = 'demo', container = 'shell', prompt = true, until = 'open' } = {}) {
  await page.locator(`.pod[data-pod="${pod}"] button[data-container="${container}"]`).click();
  await page.locator(`input[name="mode"][value="${mode}"]`).check();
  await page.fill('#command', command);
  await page.locator('#tty').setChecked(tty);
  await page.click('#open');
  await paneState(page, until);
  if (tty && mode === 'exec' && prompt && until === 'open') await waitPrompt(page);
}

// consoleProblems collects the page's console errors and page errors,
// leaving out those accept() takes.
export function consoleProblems(page, accept = () => false) {
  const problems = [];
  page.on('console', (m) => {
    if (m.type() !== 'error' || accept(m.text(), m.location().url)) return;
    problems.push(m.text() + ' at ' + m.location().url);
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  return problems;
}

// run runs main with a timeout and reports like browser.mjs.
export function run(main, timeout = 240000) {
  const overall = setTimeout(() => {
    console.error('browser: timed out');
    process.exit(2);
  }, timeout);
  main().then(() => {
    clearTimeout(overall);
    log('all checks passed');
  }, (err) => {
    clearTimeout(overall);
    console.error('browser: FAIL:', err.stack || err);
    process.exitCode = 1;
  });
}

// unit.test.mjs tests the page's pure modules in Node (node --test):
// argument splitting, the Status decoder, the local line discipline, the
// keyboard map, the scrollback search and link finder,
// the bearer subprotocol and the tar codec, the last against GNU tar itself.
// Run by web/browser_test.go (TestJSUnit).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { splitArgs } from '../src/argv.js';
import { ACK_BYTES, RESUME, Session, exitFromStatus, formatOffsets, parseOffsets } from '../src/session.js';
import { LineMode } from '../src/linemode.js';
import { bearerProtocol } from '../src/auth.js';
import { parseCast } from '../src/cast.js';
import { entryBlocks, expectedSize, firstFile, firstType, padding, trailer } from '../src/tar.js';
import { uploadPlan } from '../src/files.js';
import { walkEntries } from '../src/filesui.js';
import { keyAction, nextFontSize } from '../src/keys.js';
import { findInBuffer, findURLs, linksAt, logicalLine } from '../src/textbuf.js';
import { closeWords, containerWords } from '../src/diagnose.js';

globalThis.sessionStorage ??= { getItem: () => null, setItem() {}, removeItem() {} };

test('splitArgs', () => {
  const cases = [
    ['sh', ['sh']],
    ['  ls   -l  /tmp ', ['ls', '-l', '/tmp']],
    [`sh -c 'echo "a b"; exit 3'`, ['sh', '-c', 'echo "a b"; exit 3']],
    [`echo "x \\"y\\" \\$z"`, ['echo', 'x "y" $z']],
    [`a\\ b ''`, ['a b', '']],
    ['', []],
  ];
  for (const [line, want] of cases) assert.deepEqual(splitArgs(line), want, line);
  assert.throws(() => splitArgs(`echo 'open`), /unclosed ' quote/);
});

test('exitFromStatus', () => {
  const cases = [
    ['{"metadata":{},"status":"Success"}', { code: 0 }],
    [JSON.stringify({ status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code: error executing command [sh], exit code 3',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] } }), { code: 3 }],
    ['{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]},"message":"m"}', { code: null, message: 'm' }],
    ['{"status":"Failure","message":"container not found"}', { code: null, message: 'container not found' }],
    ['not json', { code: null, message: 'unreadable status: not json' }],
    ['{"status":"Failure","reason":"ServiceUnavailable","code":503,"message":"the server is shutting down"}',
      { code: null, message: 'the server is shutting down', unavailable: true }],
  ];
  for (const [text, want] of cases) assert.deepEqual(exitFromStatus(text), want, text);
});

test('exitFromStatus never throws', () => {
  for (let i = 0; i < 2000; i++) {
    const s = randomBytes(i % 64).toString('latin1');
    const r = exitFromStatus(i % 3 ? s : `{"status":${JSON.stringify(s)},"details":{"causes":${i % 2 ? '[null]' : '{}'}}}`);
    assert.ok(r.code === null || Number.isInteger(r.code));
  }
});

test('LineMode', () => {
  const echo = [];
  const sent = [];
  let eofs = 0;
  const lm = new LineMode((t) => echo.push(t), (t) => sent.push(t), () => eofs++);
  lm.input('helo');
  lm.input('\x7f');
  lm.input('lo\r');
  lm.input('\x1b[A'); // an arrow key: ignored
  lm.input('part');
  lm.input('\x04'); // ^D on a partial line sends it
  lm.input('\x04'); // ^D at an empty line: EOF
  assert.deepEqual(sent, ['hello\n', 'part']);
  assert.equal(eofs, 1);
  assert.equal(echo.join(''), 'helo\b \blo\r\npart');
});

test('bearerProtocol', () => {
  const tok = 'a+b/c?~é';
  assert.equal(bearerProtocol(tok), 'base64url.bearer.authorization.k8s.io.' + Buffer.from(tok).toString('base64url'));
  assert.match(bearerProtocol('x'.repeat(100)), /^[A-Za-z0-9._-]+$/);
});

function archive(name, data) {
  return Buffer.concat([entryBlocks(name, { size: data.length, mtime: 1700000000 }), data, new Uint8Array(padding(data.length)), trailer]);
}

test('tar: GNU tar extracts what entryBlocks writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-tar-'));
  try {
    for (const [name, size] of [['empty', 0], ['one block', 512], ['ünïcode.bin', 1000], ['x'.repeat(100), 70000]]) {
      const data = randomBytes(size);
      execFileSync('tar', ['-xmf', '-', '-C', dir], { input: archive(name, data) });
      assert.deepEqual(readFileSync(join(dir, name)), data, name);
      assert.equal(expectedSize(archive(name, data)), size);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  for (const bad of ['', '/abs', '../up', 'a/../b', 'a//b', './a', 'a/', 'nul\0']) {
    assert.throws(() => entryBlocks(bad, { size: 1 }), /bad path/, JSON.stringify(bad));
  }
});

// A tree as a picked or dropped folder gives it: nested, long and
// non-ASCII paths, an empty directory; GNU tar extracts it whole, and
// reads the same tree back as the directory's archive.
test('tar: GNU tar extracts a tree that uploadPlan and entryBlocks write', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-tar-'));
  try {
    const files = {
      'top/a.txt': randomBytes(10),
      'top/sub/b.bin': randomBytes(70000),
      ['top/' + 'd'.repeat(120) + '/' + 'f'.repeat(90)]: randomBytes(600), // prefix and name
      ['top/' + 'ü'.repeat(60) + '/' + 'é'.repeat(70)]: randomBytes(5), // too long for both: pax
      'top/sub/empty': Buffer.alloc(0),
    };
    const items = Object.entries(files).map(([path, data]) => ({ path, file: { size: data.length, lastModified: 1700000000000, data } }));
    items.push({ dir: 'top/nothing/inside' });
    const plan = uploadPlan(items);
    assert.deepEqual(plan.filter((p) => p.dir).map((p) => p.dir).slice(0, 2), ['top', 'top/sub'], 'directories first');
    const parts = [];
    for (const p of plan) {
      if (p.dir) {
        parts.push(entryBlocks(p.dir, { dir: true }));
        continue;
      }
      parts.push(entryBlocks(p.path, { size: p.file.size, mtime: 1700000000 }), p.file.data, new Uint8Array(padding(p.file.size)));
    }
    parts.push(trailer);
    const out = join(dir, 'out');
    mkdirSync(out);
    execFileSync('tar', ['-xmf', '-', '-C', out], { input: Buffer.concat(parts) });
    for (const [path, data] of Object.entries(files)) assert.deepEqual(readFileSync(join(out, path)), data, path);
    assert.equal(statSync(join(out, 'top/nothing/inside')).isDirectory(), true);
    const back = execFileSync('tar', ['cf', '-', '-C', out, 'top'], { maxBuffer: 1 << 24 });
    assert.equal(firstType(back), 'dir');
    assert.equal(firstType(execFileSync('tar', ['cf', '-', '-C', out, 'top/a.txt'])), 'file');
    assert.equal(firstType(back.subarray(0, 100)), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => uploadPlan([{ path: '../escape', file: { size: 0 } }]), /bad path/);
});

test('tar: firstFile reads what GNU tar writes, long names included', () => {
  const dir = mkdtempSync(join(tmpdir(), 'porthole-tar-'));
  try {
    for (const [name, format] of [['short', 'gnu'], ['l'.repeat(150), 'gnu'], ['p'.repeat(150), 'pax'], ['ü'.repeat(80), 'pax'], ['u'.repeat(90), 'ustar']]) {
      const data = randomBytes(3000);
      writeFileSync(join(dir, name), data);
      const out = execFileSync('tar', ['cf', '-', '--format=' + format, '-C', dir, name], { maxBuffer: 1 << 24 });
      const f = firstFile(new Uint8Array(out));
      assert.equal(f.name, name, format);
      assert.deepEqual(Buffer.from(f.data), data, format);
    }
    const out = execFileSync('tar', ['cf', '-', '-C', tmpdir(), dir.split('/').pop()]);
    assert.throws(() => firstFile(new Uint8Array(out)), /is a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tar: firstFile rejects damage without hanging or crashing', () => {
  const good = new Uint8Array(archive('f', randomBytes(2000)));
  assert.throws(() => firstFile(good.subarray(0, 1000)), /truncated/);
  const bad = good.slice();
  bad[10] ^= 1;
  assert.throws(() => firstFile(bad), /corrupt tar header/);
  assert.throws(() => firstFile(new Uint8Array(1024)), /no file/);
  for (let i = 0; i < 3000; i++) {
    const junk = i % 2 ? randomBytes(i % 2048) : Buffer.from(good.map((b, j) => (j % 97 === i % 97 ? b ^ (i & 0xff) : b)));
    try {
      firstFile(new Uint8Array(junk));
    } catch (err) {
      assert.ok(err instanceof Error && !(err instanceof TypeError) && !(err instanceof RangeError), String(err));
    }
  }
});

test('parseCast', () => {
  const text = '{"version":2,"width":80,"height":24,"timestamp":1}\n[0.5, "o", "a"]\n[0.25, "i", "typed"]\n[1.5, "o", "b"]\n[1.0, "o", "c"]\n\n';
  const c = parseCast(text);
  assert.deepEqual(c.events, [{ t: 0.5, data: 'a' }, { t: 1.5, data: 'b' }, { t: 1.5, data: 'c' }]);
  assert.equal(c.duration, 1.5);
  assert.equal(c.header.width, 80);
  for (const [bad, msg] of [['', /not an asciicast recording/], ['{"version":1,"width":1,"height":1}', /v2/],
    ['{"version":2,"width":80,"height":24}\n[1, "o"', /line 2: not JSON/], ['{"version":2,"width":80,"height":24}\n{"t":1}', /line 2: not an event/]]) {
    assert.throws(() => parseCast(bad), msg);
  }
  for (let i = 0; i < 2000; i++) {
    try {
      parseCast('{"version":2,"width":80,"height":24}\n' + randomBytes(i % 50).toString('latin1'));
    } catch (err) {
      assert.ok(!(err instanceof TypeError), String(err));
    }
  }
});

test('keyAction', () => {
  const k = (key, mods = '', code = '') => ({ key, code, ctrlKey: mods.includes('c'), shiftKey: mods.includes('s'), altKey: mods.includes('a'), metaKey: false });
  const cases = [
    [k('C', 'cs', 'KeyC'), 'terminal', false, 'copy'],
    [k('V', 'cs', 'KeyV'), 'terminal', false, 'paste'],
    [k('F', 'cs', 'KeyF'), 'terminal', false, 'search'],
    [k('Escape', 'cs'), 'terminal', false, 'leave'],
    [k('c', 'c', 'KeyC'), 'terminal', true, 'copy'], // Ctrl+C with a selection
    [k('c', 'c', 'KeyC'), 'terminal', false, ''], // ^C for the shell
    [k('v', 'c', 'KeyV'), 'terminal', false, ''], // ^V (literal next) for the shell
    [k('=', 'c'), 'terminal', false, 'fontUp'],
    [k('+', 'cs'), 'terminal', false, 'fontUp'],
    [k('-', 'c'), 'terminal', false, 'fontDown'],
    [k('0', 'c'), 'terminal', false, 'fontReset'],
    [k('PageUp', 'cs'), 'page', false, 'prevTab'],
    [k('PageDown', 'cs'), 'tabs', false, 'nextTab'],
    [k('PageDown', 'c'), 'terminal', false, ''], // the browser's own tab switch
    [k('C', 'cs', 'KeyC'), 'page', false, ''], // outside the terminal, the browser's keys
    [k('=', 'c'), 'page', false, ''], // the browser's zoom outside the terminal
    [k('1', 'a'), 'terminal', false, ''], // Alt+digit is readline's argument
    [k('a', ''), 'terminal', false, ''],
    [k('L', 'cs', 'KeyL'), 'terminal', false, 'toggleSide'], // the pod list, from anywhere
    [k('L', 'cs', 'KeyL'), 'page', false, 'toggleSide'],
    [k('l', 'c', 'KeyL'), 'terminal', false, ''], // ^L clears the shell's screen
  ];
  for (const [ev, where, sel, want] of cases) assert.equal(keyAction(ev, where, sel), want, JSON.stringify([ev, where, sel]));
  assert.equal(nextFontSize(14, 'fontUp'), 15);
  assert.equal(nextFontSize(8, 'fontDown'), 8);
  assert.equal(nextFontSize(32, 'fontUp'), 32);
  assert.equal(nextFontSize(20, 'fontReset'), 14);
});

// fakeBuffer is an xterm buffer of rows (strings, a leading '\t' marks a
// row wrapped from the one before, which is then full; '\u0000' after a
// wide character is its second cell).
function fakeBuffer(rows, cols) {
  const lines = rows.map((r) => {
    const wrapped = r.startsWith('\t');
    const cells = [...(wrapped ? r.slice(1) : r)];
    return {
      isWrapped: wrapped,
      getCell(x) {
        const ch = cells[x] ?? '';
        const wide = cells[x + 1] === '\u0000';
        return { getChars: () => (ch === '\u0000' ? '' : ch), getWidth: () => (ch === '\u0000' ? 0 : wide ? 2 : 1) };
      },
    };
  });
  return { length: lines.length, getLine: (y) => lines[y], cols };
}

test('logicalLine and findInBuffer', () => {
  const rows = ['e needle', 'needle', 'abcdefghne', '\tedle tail', '漢\u0000needle'];
  const buf = fakeBuffer(rows, 10);
  const l = logicalLine(buf, 3, 10);
  assert.deepEqual([l.first, l.last, l.text], [2, 3, 'abcdefghneedle tail']);
  // Backwards from the end: the last match first, then older ones, then around.
  let from = [buf.length, 0];
  const seen = [];
  for (let i = 0; i < 5; i++) {
    const m = findInBuffer(buf, 10, 'NEEDLE'.toLowerCase(), from, true);
    seen.push([m.row, m.col, m.length]);
    from = [m.row, m.col];
  }
  assert.deepEqual(seen, [[4, 2, 6], [2, 8, 6], [1, 0, 6], [0, 2, 6], [4, 2, 6]]);
  assert.deepEqual(findInBuffer(buf, 10, 'needle', [1, 0], false), { row: 2, col: 8, length: 6 }); // across the wrap
  assert.deepEqual(findInBuffer(buf, 10, '漢n', [-1, 0], false), { row: 4, col: 0, length: 3 }); // a wide character is two cells
  assert.equal(findInBuffer(buf, 10, 'Needle', [-1, 0], false), null); // a capital makes it case-sensitive
  assert.equal(findInBuffer(buf, 10, 'absent', [-1, 0], false), null);
});

test('findURLs', () => {
  const cases = [
    ['see https://example.com/a?b=1.', ['https://example.com/a?b=1']],
    ['(http://h.example/x) and "http://q.example/"', ['http://h.example/x', 'http://q.example/']],
    ['http://en.example/wiki/A_(b)', ['http://en.example/wiki/A_(b)']],
    ['javascript:alert(1) file:///etc/passwd data:text/html,x ftp://x', []],
    ['http:// https://', []],
    ['xhttp://a.example', []],
  ];
  for (const [text, want] of cases) assert.deepEqual(findURLs(text).map((u) => u.url), want, text);
});

test('linksAt', () => {
  const buf = fakeBuffer(['go to http', '\t://a.examp', '\tle/x now'], 10);
  const want = [{ url: 'http://a.example/x', range: { start: { x: 7, y: 1 }, end: { x: 4, y: 3 } } }];
  for (const y of [0, 1, 2]) assert.deepEqual(linksAt(buf, y, 10), want, `row ${y}`);
  assert.deepEqual(linksAt(fakeBuffer(['no links'], 10), 0, 10), []);
});

test('containerWords and closeWords', () => {
  const pod = (statuses, containers = [{ name: 'c' }]) => ({ metadata: { namespace: 'ns', name: 'p' }, spec: { containers }, status: { phase: 'Running', containerStatuses: statuses } });
  const cases = [
    [pod([{ name: 'c', state: { running: {} } }]), ''],
    [pod([], [{ name: 'other' }]), 'pod ns/p has no container c'],
    [pod([{ name: 'c', state: { terminated: { exitCode: 2, reason: 'Error' } } }]), 'container c has stopped (Error, exit code 2)'],
    [pod([{ name: 'c', state: { waiting: { reason: 'CrashLoopBackOff' } } }]), 'container c is not running (waiting: CrashLoopBackOff)'],
    [pod([]), 'container c has not started (pod ns/p is Running)'],
  ];
  for (const [p, want] of cases) assert.equal(containerWords(p, 'c'), want);
  // An ephemeral container (kubectl debug's) is the pod's too.
  const debugged = {
    metadata: { namespace: 'ns', name: 'p' }, spec: { containers: [{ name: 'main' }], ephemeralContainers: [{ name: 'c' }] },
    status: { phase: 'Running', ephemeralContainerStatuses: [{ name: 'c', state: { terminated: { exitCode: 3, reason: 'Error' } } }] },
  };
  assert.equal(containerWords(debugged, 'c'), 'container c has stopped (Error, exit code 3)');
  debugged.status.ephemeralContainerStatuses = [];
  assert.equal(containerWords(debugged, 'c'), 'container c has not started (pod ns/p is Running)');
  assert.equal(closeWords(1006, ''), 'the network or the server went away');
  assert.equal(closeWords(1001, 'gateway shutting down'), 'the server is shutting down (gateway shutting down)');
  assert.equal(closeWords(1008, 'session idle for 30m0s'), 'session idle for 30m0s');
  assert.equal(closeWords(4000, ''), 'close code 4000');
});

// The resume control lines, as protocol.FormatOffsets and ParseOffsets
// write and read them.
test('resume offsets', () => {
  assert.equal(formatOffsets({ stdout: 0, stderr: 0, error: 0 }), '');
  assert.equal(formatOffsets({ stdout: 12, stderr: 0, error: 3 }), 'stdout=12,error=3');
  assert.deepEqual(parseOffsets(''), { stdin: 0, stdout: 0, stderr: 0, error: 0 });
  assert.deepEqual(parseOffsets('stdin=7'), { stdin: 7, stdout: 0, stderr: 0, error: 0 });
  assert.deepEqual(parseOffsets('stdin=1,stdout=2,stderr=3,error=4'), { stdin: 1, stdout: 2, stderr: 3, error: 4 });
  for (const bad of ['session=abc', 'stdin=-1', 'stdin=', 'stdin=1,', 'x=1', 'stdin=+1', 'stdin=1 ']) {
    assert.equal(parseOffsets(bad), null, bad);
  }
});

// A resumable session acknowledges output as it arrives, every ACK_BYTES,
// not only on its timer: the gateway stops sending at its 4 MiB window.
test('resume acknowledges by bytes', () => {
  const sockets = [];
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = class {
    static OPEN = 1;
    constructor(url, protocols) {
      this.protocol = protocols[0];
      this.readyState = 1;
      this.sent = [];
      sockets.push(this);
    }
    send(msg) { this.sent.push(msg); }
    close() { this.readyState = 3; }
  };
  let s;
  try {
    s = new Session('ws://gateway/x', ['v5.channel.k8s.io'], { onOpen() {}, onOutput() {} });
    const ws = sockets[0];
    assert.equal(ws.protocol, RESUME);
    ws.onopen();
    const message = (ch, n) => {
      const b = new Uint8Array(n + 1);
      b[0] = ch;
      return { data: b.buffer };
    };
    const acks = () => ws.sent.filter((m) => m[0] === 5).map((m) => new TextDecoder().decode(m.subarray(1)));
    ws.onmessage(message(1, ACK_BYTES - 10));
    assert.deepEqual(acks(), []);
    ws.onmessage(message(2, 10));
    assert.deepEqual(acks(), [`stdout=${ACK_BYTES - 10},stderr=10\n`]);
    ws.onmessage(message(1, 3 * ACK_BYTES));
    assert.deepEqual(acks().at(-1), `stdout=${4 * ACK_BYTES - 10},stderr=10\n`);
  } finally {
    if (s) {
      s.ended = true;
      clearInterval(s.ackTimer);
    }
    globalThis.WebSocket = saved;
  }
});

// A dropped folder arrives as FileSystemEntry trees, read in batches.
test('walkEntries reads dropped folders whole', async () => {
  const file = (fullPath, size) => ({ isFile: true, isDirectory: false, fullPath, file: (ok) => ok({ size, name: fullPath.split('/').pop() }) });
  const folder = (fullPath, children, batch = 2) => ({
    isFile: false, isDirectory: true, fullPath,
    createReader: () => {
      let at = 0;
      return { readEntries: (ok) => setTimeout(() => ok(children.slice(at, (at += batch)))) };
    },
  });
  const tree = folder('/top', [file('/top/a', 1), file('/top/b', 2), folder('/top/empty', []), folder('/top/sub', [file('/top/sub/c', 3)])]);
  const items = await walkEntries([tree, file('/loose', 4)]);
  assert.deepEqual(items.map((it) => it.dir ?? it.path), ['top', 'top/a', 'top/b', 'top/empty', 'top/sub', 'top/sub/c', 'loose']);
  assert.deepEqual(uploadPlan(items).map((p) => p.dir ?? p.path), ['top', 'top/a', 'top/b', 'top/empty', 'top/sub', 'top/sub/c', 'loose']);
});

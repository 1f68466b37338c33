// session.js speaks v5.channel.k8s.io to an exec or attach endpoint.
//
// Every binary message is one channel byte then the payload:
//   [0 ...]   stdin (page -> server)
//   [1 ...]   stdout          [2 ...] stderr
//   [3 json]  the session's Status, sent once before the close
//   [4 json]  resize {"Width":cols,"Height":rows} (page -> server)
//   [255 0]   close signal: stdin is finished (v5 only)
// The server's first message is an empty stdout message; the session ends
// with the Status and a close 1000. A close without a Status is a dropped
// connection, not an exit.
//
// porthole's gateway can keep a session whose connection was cut (its
// resume extension, v5.resume.porthole.dev, offered first): v5's framing
// plus a control channel 5 of text lines. The gateway's first lines on
// every connection are "session=ID" and "stdin=N" (the stdin bytes it
// received); then "stdin=N" as more is written to the process. The page
// keeps at most 1 MiB unacknowledged when it can wait (uploads), the
// gateway's window, so that the gateway always reads its connection. The page acknowledges the output
// it received ("stdout=N,stderr=N,error=N"). After a cut (close 1006) the
// page reconnects with the id and those counts in the query, the gateway
// sends the output from there, and the page sends its stdin again from
// the gateway's count: no byte lost or repeated. The session is over at
// a clean close after the Status. Any other server picks v5: no resume.

export const V5 = 'v5.channel.k8s.io';
export const RESUME = 'v5.resume.porthole.dev';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CONTROL = 5;
const CLOSE = 255;

const ACK_EVERY = 50; // ms between acknowledgements while output flows
// ACK_BYTES of output acknowledge at once: the gateway keeps 4 MiB per
// stream unacknowledged (protocol.ResumeOutputWindow) and then waits, so
// acknowledging on the timer alone caps output at 4 MiB per ACK_EVERY.
export const ACK_BYTES = 1024 * 1024;
const RESUME_FOR = 3 * 60 * 1000; // the gateway's default grace
const MAX_UNACKED = 1024 * 1024; // stdin kept for a resend before waitDrained waits: the gateway's window
// resumeCodes are the closes of a cut connection, worth a resume: no close
// frame at all, or a proxy's going away or restart.
const resumeCodes = new Set([1001, 1006, 1012, 1013]);

// parseOffsets reads an offsets line; null when malformed.
export function parseOffsets(line) {
  const o = { stdin: 0, stdout: 0, stderr: 0, error: 0 };
  if (line === '') return o;
  for (const kv of line.split(',')) {
    const m = /^(stdin|stdout|stderr|error)=(\d{1,19})$/.exec(kv);
    if (!m) return null;
    o[m[1]] = Number(m[2]);
  }
  return o;
}

// formatOffsets writes what the page received, leaving out zero counts.
export function formatOffsets(o) {
  return ['stdout', 'stderr', 'error'].filter((k) => o[k] > 0).map((k) => `${k}=${o[k]}`).join(',');
}

// sessionURL is the WebSocket URL of an exec (argv run in the container) or
// attach session on the page's own origin.
export function sessionURL({ namespace, pod, container, mode, argv, tty }) {
  const q = new URLSearchParams();
  if (mode === 'exec') for (const a of argv) q.append('command', a);
  q.set('container', container);
  q.set('stdin', 'true');
  q.set('stdout', 'true');
  if (tty) q.set('tty', 'true');
  else q.set('stderr', 'true');
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/${mode}`;
  return `${scheme}//${location.host}${path}?${q}`;
}

// exitFromStatus reads the Status document: {code} for an exit code,
// {code: null, message} for any other failure.
export function exitFromStatus(text) {
  let st;
  try {
    st = JSON.parse(text);
  } catch {
    return { code: null, message: 'unreadable status: ' + text };
  }
  if (st.status === 'Success') return { code: 0 };
  if (st.reason === 'NonZeroExitCode') {
    const cause = ((st.details && st.details.causes) || []).find((c) => c.reason === 'ExitCode');
    const n = cause ? Number(cause.message) : NaN;
    if (Number.isInteger(n)) return { code: n };
  }
  if (st.reason === 'ServiceUnavailable') {
    // The server ended the session as it shut down: worth a reconnect.
    return { code: null, message: st.message || 'server unavailable', unavailable: true };
  }
  return { code: null, message: st.message || 'session failed' };
}

// Session is one session over one or, when it resumes, several
// WebSockets. Handlers: onOpen() once; onOutput(bytes, channel);
// onExit({code, message}) once the Status arrived and the session closed;
// onDrop({code, reason, opened, resumeFailed}) when it closed without a
// Status and will not resume; onResuming() as a cut connection is being
// resumed; onResumed() once it is.
export class Session {
  constructor(url, protocols, handlers, { resume = true } = {}) {
    this.url = url;
    this.protocols = protocols; // V5 and, when signed in, the bearer token
    this.h = handlers;
    this.status = '';
    this.gotStatus = false;
    this.opened = false;
    this.ended = false; // over: exited, dropped for good or closed
    this.decoder = new TextDecoder();
    this.encoder = new TextEncoder();
    // Resume state, used once the server picked RESUME.
    this.resumable = false;
    this.id = '';
    this.got = { stdout: 0, stderr: 0, error: 0 };
    this.acked = '';
    this.sinceAck = 0; // output bytes since the last acknowledgement
    this.unacked = []; // stdin chunks not acknowledged, from stdinBase
    this.unackedBytes = 0;
    this.stdinBase = 0;
    this.stdinSent = 0; // stdin offset sent on the current connection
    this.stdinClosed = false; // the close signal was asked for
    this.ready = false; // stdin may go out on the current connection
    this.ctl = '';
    this.size = null;
    this.waiters = [];
    this.dial(resume ? [RESUME, ...protocols] : protocols, url);
  }

  dial(protocols, url) {
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => this.handleOpen(ws);
    ws.onmessage = (ev) => this.handleMessage(ws, ev);
    ws.onclose = (ev) => this.handleClose(ws, ev);
    this.ws = ws;
  }

  handleOpen(ws) {
    if (ws !== this.ws) return;
    ws.wasOpen = true;
    if (this.resuming) {
      if (ws.protocol !== RESUME) {
        ws.close(1002, 'resume not negotiated');
        return;
      }
      this.wake();
      return; // ready once the gateway says how much stdin it holds
    }
    if (ws.protocol !== V5 && ws.protocol !== RESUME) {
      ws.close(1002, 'v5.channel.k8s.io not negotiated');
      return;
    }
    this.opened = true;
    this.resumable = ws.protocol === RESUME;
    this.ready = true;
    if (this.resumable) this.ackTimer = setInterval(() => this.ack(), ACK_EVERY);
    this.h.onOpen();
    this.wake();
  }

  handleMessage(ws, ev) {
    if (ws !== this.ws || !(ev.data instanceof ArrayBuffer) || ev.data.byteLength === 0) return;
    const msg = new Uint8Array(ev.data);
    const payload = msg.subarray(1);
    switch (msg[0]) {
      case STDOUT:
      case STDERR:
        this.got[msg[0] === STDOUT ? 'stdout' : 'stderr'] += payload.length;
        if (payload.length > 0) this.h.onOutput(payload, msg[0]);
        this.sinceAck += payload.length;
        if (this.resumable && this.sinceAck >= ACK_BYTES) this.ack();
        break;
      case ERROR:
        this.got.error += payload.length;
        this.gotStatus = true;
        this.status += this.decoder.decode(payload, { stream: true });
        break;
      case CONTROL:
        if (this.resumable) this.control(ws, new TextDecoder().decode(payload));
        break;
      default:
        break; // unknown channels are ignored, as the Kubernetes clients do
    }
  }

  // control reads the gateway's control lines: the session's id and how
  // much stdin it holds.
  control(ws, text) {
    this.ctl += text;
    if (this.ctl.length > 4096) {
      ws.close(1002, 'control line too long');
      return;
    }
    let nl;
    while ((nl = this.ctl.indexOf('\n')) >= 0) {
      const line = this.ctl.slice(0, nl);
      this.ctl = this.ctl.slice(nl + 1);
      if (line.startsWith('session=')) {
        const id = line.slice('session='.length);
        if (this.id && id !== this.id) {
          ws.close(1002, 'another session');
          return;
        }
        this.id = id;
        continue;
      }
      const o = parseOffsets(line);
      if (!o) continue;
      // The first count on a connection is what the gateway received;
      // the later ones what it wrote to the process, which can be less
      // than what a resume trimmed to: old news, not an error.
      if (o.stdin > this.stdinBase + this.unackedBytes || (!this.ready && o.stdin < this.stdinBase)) {
        ws.close(1002, 'stdin offset out of range');
        return;
      }
      if (o.stdin > this.stdinBase) this.trim(o.stdin);
      if (!this.ready) this.resumed(o.stdin);
    }
  }

  // trim drops the stdin the gateway acknowledged up to n.
  trim(n) {
    while (this.unacked.length > 0 && this.stdinBase + this.unacked[0].length <= n) {
      this.stdinBase += this.unacked[0].length;
      this.unackedBytes -= this.unacked[0].length;
      this.unacked.shift();
    }
    if (n > this.stdinBase) { // part of the first chunk
      const cut = n - this.stdinBase;
      this.unacked[0] = this.unacked[0].subarray(cut);
      this.unackedBytes -= cut;
      this.stdinBase = n;
    }
    this.wake();
  }

  // resumed runs once a reconnected connection said how much stdin the
  // gateway holds: the rest goes again, then the close signal and the
  // size.
  resumed(stdinAt) {
    this.ready = true;
    this.stdinSent = stdinAt;
    this.resuming = false;
    this.flush();
    if (this.stdinClosed) this.send(CLOSE, Uint8Array.of(STDIN));
    if (this.size) this.sendSize();
    if (this.h.onResumed) this.h.onResumed();
    this.wake();
  }

  // ack tells the gateway what arrived, when that changed.
  ack() {
    if (!this.ready || !this.open) return;
    const line = formatOffsets(this.got);
    this.sinceAck = 0;
    if (line === this.acked) return;
    this.acked = line;
    this.send(CONTROL, this.encoder.encode(line + '\n'));
  }

  handleClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ready = false;
    this.closed(ev);
    // Waiters (uploads) look once the close is settled: woken before
    // resuming is set, an upload waiting for room took a cut for the end.
    this.wake();
  }

  closed(ev) {
    const ws = this.ws;
    // A resumable session is over at a clean close after its Status (a
    // resume into a session that finished meanwhile closes at once).
    if (!this.resumable || this.ended || (this.gotStatus && ev.code === 1000)) {
      this.resuming = false;
      this.finish(ev);
      return;
    }
    if (this.resuming && !ws.wasOpen) {
      this.retry(ev);
      return;
    }
    // Only a cut is resumed: the gateway's own close (1008: the session
    // ended, or was resumed elsewhere) is final.
    if (!this.id || !resumeCodes.has(ev.code)) {
      this.resuming = false;
      this.finish(ev);
      return;
    }
    if (this.resuming) {
      this.later(); // a resumed connection cut again
      return;
    }
    this.resuming = true;
    this.resumeUntil = Date.now() + RESUME_FOR;
    this.backoff = 100;
    this.lastCut = ev;
    if (this.h.onResuming) this.h.onResuming();
    this.reconnect();
  }

  // reconnect dials again with the session's id and what arrived.
  reconnect() {
    if (this.ended) return;
    const u = new URL(this.url);
    u.searchParams.set('portholeResume', this.id);
    u.searchParams.set('portholeResumeOffsets', formatOffsets(this.got));
    this.acked = formatOffsets(this.got);
    this.ctl = '';
    this.dial([RESUME, ...this.protocols.filter((p) => p !== V5)], u.toString());
  }

  // retry follows a reconnect that never opened: again, with backoff,
  // while the server cannot be reached; a server that answers but refused
  // the upgrade (a browser sees close 1006 and no status) no longer has
  // the session.
  async retry(ev) {
    let reachable = false;
    try {
      reachable = (await fetch('/readyz', { cache: 'no-store', credentials: 'omit' })).ok;
    } catch {
      reachable = false;
    }
    if (this.ended) return;
    if (reachable && ev.code === 1006) {
      this.resuming = false;
      this.finish(this.lastCut, 'the session could not be resumed: it ended, or its resume grace expired');
      return;
    }
    this.later();
  }

  // later reconnects after a jittered, growing backoff, until the resume
  // time is up.
  later() {
    if (Date.now() + this.backoff > this.resumeUntil) {
      this.resuming = false;
      this.finish(this.lastCut, 'the server could not be reached again in time to resume the session');
      return;
    }
    setTimeout(() => this.reconnect(), this.backoff / 2 + Math.random() * this.backoff);
    this.backoff = Math.min(this.backoff * 2, 2000);
  }

  // finish ends the session: an exit when the Status arrived, else a drop.
  finish(ev, resumeFailed = '') {
    if (this.ended) return; // closed by the page: nothing to report
    this.ended = true;
    clearInterval(this.ackTimer);
    this.wake();
    if (this.gotStatus && !resumeFailed) this.h.onExit(exitFromStatus(this.status + this.decoder.decode()));
    else this.h.onDrop({ code: ev.code, reason: ev.reason, opened: this.opened, resumeFailed });
  }

  get open() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  // live reports whether the session runs: connected, or resuming.
  get live() {
    return !this.ended && (this.open || !!this.resuming);
  }

  send(channel, payload) {
    if (!this.open) return;
    const msg = new Uint8Array(payload.length + 1);
    msg[0] = channel;
    msg.set(payload, 1);
    this.ws.send(msg);
  }

  // sendStdin sends bytes as stdin. A resumable session keeps them until
  // the gateway has them, to send again after a cut.
  sendStdin(bytes) {
    if (bytes.length === 0 || this.ended) return;
    if (!this.resumable) {
      this.send(STDIN, bytes);
      return;
    }
    this.unacked.push(bytes.slice());
    this.unackedBytes += bytes.length;
    this.flush();
  }

  // flush sends the kept stdin the current connection has not carried.
  flush() {
    if (!this.ready || !this.open) return;
    let off = this.stdinBase;
    for (const c of this.unacked) {
      const end = off + c.length;
      if (end > this.stdinSent) {
        this.send(STDIN, c.subarray(Math.max(0, this.stdinSent - off)));
        this.stdinSent = end;
      }
      off = end;
    }
  }

  // waitDrained resolves once the socket holds at most highWater bytes
  // unsent and the stdin kept for a resend is bounded (backpressure
  // instead of queueing a whole file); it waits through a resume and
  // rejects once the session is over.
  waitDrained(highWater) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.ended || (!this.open && !this.resuming)) return reject(new Error('connection closed during upload'));
        if (this.ready && this.open && this.ws.bufferedAmount <= highWater && this.unackedBytes <= MAX_UNACKED) return resolve();
        this.waiters.push(check);
        if (this.ready && this.open) setTimeout(() => this.wake(), 10); // bufferedAmount has no event
      };
      check();
    });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  // input sends typed text (xterm's onData) as stdin.
  input(text) {
    this.sendStdin(this.encoder.encode(text));
  }

  // inputBinary sends xterm's onBinary string, one byte per character.
  inputBinary(str) {
    this.sendStdin(Uint8Array.from(str, (c) => c.charCodeAt(0) & 0xff));
  }

  resize(cols, rows) {
    this.size = { cols, rows };
    if (!this.resumable || this.ready) this.sendSize();
  }

  sendSize() {
    this.send(RESIZE, this.encoder.encode(JSON.stringify({ Width: this.size.cols, Height: this.size.rows })));
  }

  // closeStdin sends the v5 close signal for stdin: the process reads EOF
  // while its output keeps flowing. A resumable session sends it after
  // the kept stdin, again after a cut.
  closeStdin() {
    this.stdinClosed = true;
    if (!this.resumable || this.ready) this.send(CLOSE, Uint8Array.of(STDIN));
  }

  // close ends the session from the page side (a clean close: the
  // gateway ends a resumable session too).
  close() {
    if (this.ended) return;
    this.ended = true;
    this.resuming = false;
    clearInterval(this.ackTimer);
    this.wake();
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'closed by the user');
  }
}

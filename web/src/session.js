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

export const V5 = 'v5.channel.k8s.io';

const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const ERROR = 3;
const RESIZE = 4;
const CLOSE = 255;

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

// Session is one WebSocket session. Handlers: onOpen(), onOutput(bytes, channel),
// onExit({code, message}) once the Status arrived and the socket closed,
// onDrop({code, reason, opened}) when it closed without a Status.
export class Session {
  constructor(url, protocols, handlers) {
    this.h = handlers;
    this.status = '';
    this.gotStatus = false;
    this.opened = false;
    this.decoder = new TextDecoder();
    this.encoder = new TextEncoder();
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => this.handleOpen();
    this.ws.onmessage = (ev) => this.handleMessage(ev);
    this.ws.onclose = (ev) => this.handleClose(ev);
  }

  handleOpen() {
    if (this.ws.protocol !== V5) {
      this.ws.close(1002, 'v5.channel.k8s.io not negotiated');
      return;
    }
    this.opened = true;
    this.h.onOpen();
  }

  handleMessage(ev) {
    if (!(ev.data instanceof ArrayBuffer) || ev.data.byteLength === 0) return;
    const msg = new Uint8Array(ev.data);
    const payload = msg.subarray(1);
    switch (msg[0]) {
      case STDOUT:
      case STDERR:
        if (payload.length > 0) this.h.onOutput(payload, msg[0]);
        break;
      case ERROR:
        this.gotStatus = true;
        this.status += this.decoder.decode(payload, { stream: true });
        break;
      default:
        break; // unknown channels are ignored, as the Kubernetes clients do
    }
  }

  handleClose(ev) {
    if (this.gotStatus) this.h.onExit(exitFromStatus(this.status + this.decoder.decode()));
    else this.h.onDrop({ code: ev.code, reason: ev.reason, opened: this.opened });
  }

  get live() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(channel, payload) {
    if (!this.live) return;
    const msg = new Uint8Array(payload.length + 1);
    msg[0] = channel;
    msg.set(payload, 1);
    this.ws.send(msg);
  }

  // sendStdin sends bytes as stdin.
  sendStdin(bytes) {
    if (bytes.length > 0) this.send(STDIN, bytes);
  }

  // input sends typed text (xterm's onData) as stdin.
  input(text) {
    this.send(STDIN, this.encoder.encode(text));
  }

  // inputBinary sends xterm's onBinary string, one byte per character.
  inputBinary(str) {
    this.send(STDIN, Uint8Array.from(str, (c) => c.charCodeAt(0) & 0xff));
  }

  resize(cols, rows) {
    this.send(RESIZE, this.encoder.encode(JSON.stringify({ Width: cols, Height: rows })));
  }

  // closeStdin sends the v5 close signal for stdin: the process reads EOF
  // while its output keeps flowing.
  closeStdin() {
    this.send(CLOSE, Uint8Array.of(STDIN));
  }

  // close ends the session from the page side.
  close() {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'closed by the user');
  }
}

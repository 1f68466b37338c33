// pane.js is one terminal tab: an xterm.js terminal wired to a Session,
// with its status line and the buttons to close stdin, reconnect and close.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { Session, V5, sessionURL } from './session.js';
import { bearerProtocol, getToken } from './auth.js';
import { LineMode } from './linemode.js';
import { get } from './api.js';

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

// Pane owns its terminal and at most one live session. target is
// {namespace, pod, container, mode, argv, tty}; onClose(pane) is called
// once the user closes the tab.
export class Pane {
  constructor(target, onSelect, onClose) {
    this.target = target;
    this.onClose = onClose;
    const what = target.mode === 'exec' ? target.argv.join(' ') : 'attach';
    this.title = `${target.pod}/${target.container}: ${what}`;

    this.tab = el('div', { class: 'tab', role: 'tab' });
    const label = el('button', { type: 'button', class: 'tab-label' }, this.title);
    const x = el('button', { type: 'button', class: 'tab-close', title: 'Close tab', 'aria-label': 'Close tab' }, '×');
    label.addEventListener('click', () => onSelect(this));
    x.addEventListener('click', () => this.close());
    this.tab.append(label, x);

    this.root = el('div', { class: 'pane', 'data-state': 'connecting' });
    const bar = el('div', { class: 'bar' });
    this.statusLine = el('span', { class: 'status', role: 'status' }, 'connecting…');
    this.stdinButton = el('button', { type: 'button', class: 'close-stdin', title: 'Send end-of-file (v5 close signal)' }, 'Close stdin');
    this.reconnectButton = el('button', { type: 'button', class: 'reconnect' }, 'Reconnect');
    this.reconnectButton.hidden = true;
    this.stdinButton.hidden = target.tty; // a terminal has no half-close: the runtime does not forward EOF
    this.stdinButton.addEventListener('click', () => this.closeStdin());
    this.reconnectButton.addEventListener('click', () => this.connect());
    bar.append(this.statusLine, this.stdinButton, this.reconnectButton);
    this.host = el('div', { class: 'term' });
    this.root.append(bar, this.host);

    this.term = new Terminal({
      cursorBlink: true,
      convertEol: !target.tty, // without a tty, output has bare \n
      fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
    });
    this.fit = new FitAddon();
    this.term.loadAddon(this.fit);
    // With a tty the remote terminal echoes and handles ^D; without one
    // the page does (see LineMode), and ^D at an empty line closes stdin.
    const line = new LineMode((t) => this.term.write(t), (t) => this.session && this.session.input(t), () => this.closeStdin());
    this.term.onData((d) => {
      if (!this.session || !this.session.live) return;
      if (target.tty) this.session.input(d);
      else line.input(d);
    });
    this.term.onBinary((d) => this.session && this.session.inputBinary(d));
    this.term.onResize(({ cols, rows }) => this.session && this.session.resize(cols, rows));
    this.observer = new ResizeObserver(() => this.refit());
  }

  // mount attaches the pane's elements; call once, then connect.
  mount(tabs, panes) {
    tabs.append(this.tab);
    panes.append(this.root);
    this.term.open(this.host);
    this.observer.observe(this.host);
  }

  show(on) {
    this.root.hidden = !on;
    this.tab.classList.toggle('active', on);
    this.tab.setAttribute('aria-selected', String(on));
    if (on) {
      this.refit();
      this.term.focus();
    }
  }

  // refit sizes the terminal to its box; a hidden pane keeps its size.
  refit() {
    if (this.host.clientWidth > 0 && this.host.clientHeight > 0) this.fit.fit();
  }

  setState(state, text) {
    this.root.dataset.state = state;
    this.statusLine.textContent = text;
  }

  connect() {
    if (this.session && this.session.live) return;
    if (this.session) this.term.write('\r\n\x1b[2m[reconnecting]\x1b[0m\r\n');
    this.reconnectButton.hidden = true;
    this.stdinButton.disabled = false;
    delete this.root.dataset.exitCode;
    this.setState('connecting', 'connecting…');
    const protocols = [V5];
    const token = getToken();
    if (token) protocols.push(bearerProtocol(token));
    const s = new Session(sessionURL(this.target), protocols, {
      onOpen: () => this.opened(s),
      onOutput: (b) => this.term.write(b),
      onExit: (r) => this.exited(s, r),
      onDrop: (r) => this.dropped(s, r),
    });
    this.session = s;
  }

  opened(s) {
    if (s !== this.session) return;
    this.refit();
    s.resize(this.term.cols, this.term.rows); // the size is in force before the process starts
    this.setState('open', 'connected');
    if (this.target.mode === 'attach' && this.target.tty) {
      // A terminal attached to shows nothing until its program draws: say
      // so, as kubectl does.
      this.term.write("\x1b[2mIf you don't see a command prompt, try pressing enter.\x1b[0m\r\n");
    }
    this.term.focus();
  }

  exited(s, r) {
    if (s !== this.session) return;
    this.stdinButton.disabled = true;
    this.reconnectButton.hidden = false;
    this.reconnectButton.textContent = 'Run again';
    if (r.code === null && r.unavailable) {
      this.dropped(s, { reason: r.message, opened: true, ended: true });
      return;
    }
    if (r.code === null) {
      this.setState('failed', 'session failed: ' + r.message);
      return;
    }
    this.root.dataset.exitCode = String(r.code);
    this.term.write(`\r\n\x1b[2m[process exited with code ${r.code}]\x1b[0m\r\n`);
    this.setState('exited', `exited with code ${r.code}`);
  }

  dropped(s, r) {
    if (s !== this.session || this.disposed) return;
    this.stdinButton.disabled = true;
    this.reconnectButton.hidden = false;
    this.reconnectButton.textContent = 'Reconnect';
    const why = r.reason ? `: ${r.reason}` : ` (code ${r.code})`;
    if (r.opened) {
      this.setState('dropped', `connection lost${why}${r.ended ? '' : '; the session may still be running'}`);
      return;
    }
    this.setState('dropped', `could not connect${why}`);
    this.diagnose(s);
  }

  // diagnose explains a refused connection, which a browser reports only as
  // close 1006: it asks the API about the pod with the same credentials,
  // then asks for the session itself without an upgrade, which the server
  // authorizes exactly as the session: a refusal comes back with its Status
  // (the permission a 403 names), an allowed one as "Upgrade request
  // required".
  async diagnose(s) {
    const { namespace, pod, container } = this.target;
    let msg;
    try {
      const p = await get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`);
      const st = ((p.status && p.status.containerStatuses) || []).find((c) => c.name === container);
      if (!st) msg = `pod ${pod} has no container ${container}`;
      else if (!(st.state && st.state.running)) msg = `container ${container} is not running`;
      else msg = await this.probeSession();
    } catch (err) {
      msg = err.unauthorized ? 'the server refused your token: sign out and sign in again' : err.message;
    }
    if (s === this.session && !this.disposed && this.root.dataset.state === 'dropped') {
      this.statusLine.textContent += `: ${msg}`;
    }
  }

  // probeSession asks for the session's address without an upgrade and
  // words the answer.
  async probeSession() {
    const u = new URL(sessionURL(this.target));
    u.protocol = location.protocol;
    try {
      await get(u.pathname + u.search);
    } catch (err) {
      if (err.status === 403) return 'not allowed: ' + err.message.replace(/^403: /, '');
      if (err.unauthorized) return 'the server refused your token: sign out and sign in again';
      if (err.status !== 400) return err.message;
    }
    return 'the server refused the session (is this page served by the server it talks to?)';
  }

  closeStdin() {
    if (!this.session || !this.session.live) return;
    this.session.closeStdin();
    this.stdinButton.disabled = true;
    this.statusLine.textContent = 'connected, stdin closed';
  }

  // live reports whether the pane's session is running.
  get live() {
    return !!(this.session && this.session.live);
  }

  // close asks before ending a running session, then disposes the pane.
  close() {
    if (this.live && !window.confirm(`End the running session ${this.title}?`)) return;
    this.dispose();
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    if (this.session) this.session.close();
    this.observer.disconnect();
    this.term.dispose();
    this.tab.remove();
    this.root.remove();
    this.onClose(this);
  }
}

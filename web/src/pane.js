// pane.js is one terminal tab: an xterm.js terminal wired to a Session,
// with its status line and the buttons to close stdin, reconnect and close.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { Session, V5, sessionURL } from './session.js';
import { bearerProtocol, getToken } from './auth.js';
import { LineMode } from './linemode.js';
import { closeWords, explainRefusal } from './diagnose.js';
import { findInBuffer, linksAt } from './textbuf.js';
import { fontDefault } from './keys.js';

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

// openLink opens an address printed in a terminal in a new tab, with no
// way back to this page (noopener) and no Referer.
function openLink(url) {
  if (/^https?:\/\//i.test(url)) window.open(url, '_blank', 'noopener,noreferrer');
}

// Pane owns its terminal and at most one live session. target is
// {namespace, pod, container, mode, argv, tty}; onClose(pane) is called
// once the user closes the tab; onAction(pane, name) gets the page-wide
// actions of the bar's buttons ('fontUp', 'fontDown').
export class Pane {
  constructor(target, onSelect, onClose, { onAction = () => {}, fontSize = fontDefault } = {}) {
    this.target = target;
    this.onClose = onClose;
    const what = target.mode !== 'exec' ? 'attach' : target.shell ? 'shell' : target.argv.join(' ');
    this.title = `${target.pod}/${target.container}: ${what}`;

    this.tab = el('div', { class: 'tab', role: 'presentation' });
    const label = el('button', { type: 'button', class: 'tab-label', role: 'tab', 'aria-selected': 'false' }, this.title);
    this.label = label;
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
    // Search in the scrollback: Enter finds the previous (older) match,
    // Shift+Enter the next, Escape goes back to the terminal.
    this.searchBox = el('input', { type: 'search', class: 'search', placeholder: 'search scrollback', 'aria-label': 'Search the scrollback', spellcheck: 'false' });
    this.searchBox.hidden = true;
    this.searchBox.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.find(!ev.shiftKey);
      } else if (ev.key === 'Escape') {
        ev.preventDefault();
        this.closeSearch();
      }
    });
    this.searchBox.addEventListener('input', () => {
      this.searchFrom = null;
      this.searchBox.removeAttribute('aria-invalid');
    });
    const findButton = el('button', { type: 'button', class: 'find', title: 'Search the scrollback (Ctrl+Shift+F)' }, 'Find');
    findButton.addEventListener('click', () => (this.searchBox.hidden ? this.openSearch() : this.find(true)));
    const smaller = el('button', { type: 'button', class: 'font-down', title: 'Smaller font (Ctrl+-)', 'aria-label': 'Smaller font' }, 'A−');
    const larger = el('button', { type: 'button', class: 'font-up', title: 'Larger font (Ctrl+=)', 'aria-label': 'Larger font' }, 'A+');
    smaller.addEventListener('click', () => onAction(this, 'fontDown'));
    larger.addEventListener('click', () => onAction(this, 'fontUp'));
    bar.append(this.statusLine, this.searchBox, findButton, smaller, larger, this.stdinButton, this.reconnectButton);
    this.host = el('div', { class: 'term' });
    this.root.append(bar, this.host);

    this.term = new Terminal({
      cursorBlink: true,
      convertEol: !target.tty, // without a tty, output has bare \n
      fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace',
      fontSize,
      scrollback: 5000,
      // OSC 8 hyperlinks: http and https only (xterm's default refuses
      // others too), opened like the addresses found in the text.
      linkHandler: { activate: (_ev, uri) => openLink(uri) },
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
    // Selecting copies, as terminals on Linux do; a selection the search
    // made (quiet) does not replace the clipboard.
    this.term.onSelectionChange(() => {
      if (!this.quiet && this.term.hasSelection()) this.copy();
    });
    // Addresses in the output are links: a click opens them in a new tab.
    this.term.registerLinkProvider({
      provideLinks: (y, done) => {
        const buf = this.term.buffer.active;
        const links = linksAt(buf, y - 1, this.term.cols).map(({ url, range }) => ({
          range, text: url, activate: () => openLink(url),
        }));
        done(links.length ? links : undefined);
      },
    });
    this.observer = new ResizeObserver(() => this.refit());
  }

  // copy puts the selection on the clipboard; it reports whether there
  // was one.
  copy() {
    const text = this.term.getSelection();
    if (!text) return false;
    navigator.clipboard.writeText(text).catch((err) => this.note('copy refused by the browser: ' + err.message));
    return true;
  }

  // paste types the clipboard's text into the session, as a paste
  // (bracketed when the program asked for it).
  async paste() {
    let text;
    try {
      text = await navigator.clipboard.readText();
    } catch (err) {
      this.note('paste refused by the browser: ' + err.message);
      return;
    }
    if (text && !this.disposed) this.term.paste(text);
  }

  // note shows a passing message on the status line, keeping the state.
  note(text) {
    const keep = this.statusLine.textContent;
    this.statusLine.textContent = text;
    setTimeout(() => {
      if (this.statusLine.textContent === text) this.statusLine.textContent = keep;
    }, 4000);
  }

  openSearch() {
    this.searchBox.hidden = false;
    const sel = this.term.getSelection();
    if (sel && !sel.includes('\n')) this.searchBox.value = sel;
    this.searchBox.focus();
    this.searchBox.select();
  }

  closeSearch() {
    this.searchBox.hidden = true;
    this.searchFrom = null;
    this.term.clearSelection();
    this.term.focus();
  }

  // find selects the previous (older, when back) or next match of the
  // search box's text and scrolls it into view.
  find(back) {
    const buf = this.term.buffer.active;
    const from = this.searchFrom || (back ? [buf.length, 0] : [-1, 0]);
    const hit = findInBuffer(buf, this.term.cols, this.searchBox.value, from, back);
    if (!hit) {
      this.searchBox.setAttribute('aria-invalid', 'true');
      this.term.clearSelection();
      return;
    }
    this.searchBox.removeAttribute('aria-invalid');
    this.searchFrom = [hit.row, hit.col];
    this.quiet = true;
    try {
      this.term.select(hit.col, hit.row, hit.length);
    } finally {
      this.quiet = false;
    }
    if (hit.row < buf.viewportY || hit.row >= buf.viewportY + this.term.rows) {
      this.term.scrollToLine(Math.max(0, hit.row - (this.term.rows >> 1)));
    }
  }

  setFontSize(size) {
    if (this.term.options.fontSize === size) return;
    this.term.options.fontSize = size;
    this.refit();
    requestAnimationFrame(() => this.refit()); // in case the cell size is measured late
  }

  // mount attaches the pane's elements; call once, then connect.
  mount(tabs, panes) {
    tabs.append(this.tab);
    panes.append(this.root);
    this.term.open(this.host);
    this.observer.observe(this.host);
  }

  // show shows or hides the pane; a shown pane takes the focus unless
  // focus is false (a tab picked with the arrow keys keeps it).
  show(on, focus = true) {
    this.root.hidden = !on;
    this.tab.classList.toggle('active', on);
    this.label.setAttribute('aria-selected', String(on));
    this.label.tabIndex = on ? 0 : -1;
    if (on) {
      this.refit();
      if (focus) this.term.focus();
    }
  }

  // focused reports whether the keyboard is in this pane's terminal.
  get focused() {
    return !!this.term.textarea && document.activeElement === this.term.textarea;
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
      onResuming: () => this.resuming(s),
      onResumed: () => this.resumed(s),
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

  // resuming: the connection was cut and the session is being resumed;
  // what is typed meanwhile is kept and sent once it is.
  resuming(s) {
    if (s !== this.session) return;
    this.cutAt = performance.now();
    this.setState('resuming', 'connection lost: resuming the session…');
  }

  // resumed: the same session goes on, with one line in the terminal to
  // say so (none over a full-screen program, which owns the screen).
  resumed(s) {
    if (s !== this.session) return;
    const sec = ((performance.now() - this.cutAt) / 1000).toFixed(1);
    this.setState('open', 'connected (resumed)');
    if (this.term.buffer.active.type !== 'alternate') {
      const nl = this.term.buffer.active.cursorX > 0 ? '\r\n' : '';
      this.term.write(`${nl}\x1b[2m[connection lost for ${sec} s; session resumed]\x1b[0m\r\n`);
    }
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
    if (r.resumeFailed) {
      this.setState('dropped', `connection lost: ${r.resumeFailed}`);
      return;
    }
    if (r.opened && r.ended) {
      this.setState('dropped', `session ended: ${r.reason}`);
      return;
    }
    if (r.opened) {
      this.setState('dropped', `connection lost: ${closeWords(r.code, r.reason)}; the session may still be running`);
      return;
    }
    // A refused upgrade is close 1006 with no reason: diagnose says why.
    this.setState('dropped', r.code === 1006 && !r.reason ? 'could not connect' : `could not connect: ${closeWords(r.code, r.reason)}`);
    this.diagnose(s);
  }

  async diagnose(s) {
    const msg = await explainRefusal(this.target);
    if (s === this.session && !this.disposed && this.root.dataset.state === 'dropped') {
      this.statusLine.textContent += `: ${msg}`;
    }
  }

  // serverLeaving marks a live session whose server stopped answering its
  // readiness probe (it is shutting down, or cannot be reached): the
  // session may end any moment. serverBack undoes it.
  serverLeaving(text) {
    if (this.live && this.root.dataset.state === 'open') this.setState('closing', text);
  }

  serverBack() {
    if (this.live && this.root.dataset.state === 'closing') this.setState('open', 'connected');
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

// sessions.js is the live sessions panel: the gateway's exec and attach
// sessions (GET /apis/porthole.dev/v1/sessions), each with buttons to
// watch it (its output, from a recent screen on) or join it (keystrokes
// too) in a terminal tab. The panel shows only for users RBAC lets list
// sessions; a server without the sessions API hides it.
import * as api from './api.js';
import { Pane } from './pane.js';
import { Session, V5 } from './session.js';
import { bearerProtocol, getToken } from './auth.js';

export const SESSIONS_PATH = '/apis/porthole.dev/v1';
const poll = 3000;

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

// watchURL is the WebSocket URL watching (or joining) session s.
export function watchURL(s, join) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const path = `${SESSIONS_PATH}/namespaces/${encodeURIComponent(s.namespace)}/sessions/${encodeURIComponent(s.id)}/${join ? 'join' : 'watch'}`;
  return `${scheme}//${location.host}${path}`;
}

// describe is a session's one line: who runs what where, and who watches.
export function describe(s) {
  const what = s.verb === 'attach' ? 'attach' : (s.command || []).join(' ');
  const watchers = (s.watchers || []).map((w) => w.user + (w.mode === 'join' ? ' (join)' : ''));
  let line = `${s.user}: ${what} · ${s.namespace}/${s.pod}${s.container ? ' · ' + s.container : ''} · ${s.wire}`;
  if (s.waitingForModerator) line += ' · waiting for a moderator';
  if (watchers.length) line += ' · watched by ' + watchers.join(', ');
  return line;
}

// WatchPane is a terminal tab on another's session: the owner's terminal
// sets the size, and a watch sends no keystrokes.
class WatchPane extends Pane {
  constructor(s, join, onSelect, onClose, opts) {
    super({ namespace: s.namespace, pod: s.pod, container: s.container, mode: 'exec', argv: s.command || [], tty: true }, onSelect, onClose, opts);
    this.watched = s;
    this.join = join;
    this.title = `${join ? 'join' : 'watch'} ${s.user}: ${s.pod}`;
    this.label.textContent = this.title;
    this.root.dataset.watch = join ? 'join' : 'watch';
    this.root.dataset.session = s.id;
  }

  connect() {
    if (this.session && this.session.live) return;
    this.reconnectButton.hidden = true;
    this.setState('connecting', 'connecting…');
    const protocols = [V5];
    const token = getToken();
    if (token) protocols.push(bearerProtocol(token));
    const s = new Session(watchURL(this.watched, this.join), protocols, {
      onOpen: () => this.opened(s),
      onOutput: (b) => this.term.write(b),
      onExit: (r) => this.exited(s, r),
      onDrop: (r) => this.dropped(s, r),
    });
    if (!this.join) {
      s.input = () => {};
      s.inputBinary = () => {};
    }
    s.resize = () => {}; // the owner's size is the session's
    this.session = s;
  }
}

// wireSessions starts the panel in nav (before its last child): addPane
// opens a tab, select and closed are the page's, paneOpts the Pane
// options; isShown tells whether the app is on screen (not the sign-in).
export function wireSessions({ nav, addPane, select, closed, paneOpts, isShown }) {
  const section = el('section', { id: 'sessions', class: 'recordings sessions' });
  section.hidden = true;
  const list = el('ul', { id: 'session-list', class: 'recording-list' });
  section.append(el('h2', {}, 'Live sessions'), list);
  nav.insertBefore(section, nav.lastElementChild);
  let seen = null;
  const open = (s, join) => {
    const pane = new WatchPane(s, join, select, closed, paneOpts());
    addPane(pane);
    pane.connect();
  };
  async function load() {
    if (!isShown()) {
      section.hidden = true;
      list.replaceChildren();
      seen = null;
      return;
    }
    let answer;
    try {
      answer = await api.get(SESSIONS_PATH + '/sessions');
    } catch {
      section.hidden = true; // not allowed, or no sessions API here
      seen = null;
      return;
    }
    const items = answer.items || [];
    const key = JSON.stringify(items.map((s) => [s.id, describe(s), s.joinable]));
    if (key === seen && !section.hidden) return;
    seen = key;
    const rows = items.map((s) => {
      const li = el('li', { class: 'live-session', 'data-id': s.id });
      const text = el('span', { class: 'rec-command' }, describe(s));
      const watch = el('button', { type: 'button', class: 'watch-session' }, 'Watch');
      watch.addEventListener('click', () => open(s, false));
      li.append(text, watch);
      if (s.joinable) {
        const join = el('button', { type: 'button', class: 'join-session' }, 'Join');
        join.addEventListener('click', () => open(s, true));
        li.append(join);
      }
      return li;
    });
    if (rows.length === 0) rows.push(el('li', {}, 'No live sessions.'));
    list.replaceChildren(...rows);
    section.hidden = false;
  }
  setInterval(() => {
    if (document.visibilityState === 'visible') load();
  }, poll);
  return load;
}

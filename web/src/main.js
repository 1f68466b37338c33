// main.js wires the page: sign-in, the namespace/pod/container list and the
// terminal tabs. It runs from a same-origin script file (the content
// security policy allows no inline script) and talks only to its origin.
import * as api from './api.js';
import { getToken, setToken } from './auth.js';
import { splitArgs } from './argv.js';
import { Pane } from './pane.js';
import { wireFiles } from './filesui.js';
import { fontDefault, keyAction, nextFontSize, shortcuts } from './keys.js';
import { wireSessions } from './sessions.js';
import { terminalOpened, toggleSide, wireSidebar } from './layout.js';

const $ = (id) => document.getElementById(id);

const state = {
  panes: [],
  active: null,
  target: null, // {namespace, pod, container, tty} picked in the list
  recordingsTimer: null, // re-lists the recordings while signed in
  recordingsSeen: null, // what the recordings list shows, to skip redrawing it
  sso: null, // {login, logout, user} when the server signs users in through a provider
  fontSize: storedFontSize(), // every terminal's, kept across reloads
  // who is the server's /ui/whoami answer, {user, signIn}, or null from a
  // server that does not say (the page then offers to sign in).
  who: null,
};

function storedFontSize() {
  const n = Number(localStorage.getItem('porthole.fontSize'));
  return Number.isInteger(n) && n > 0 ? nextFontSize(n, '') : fontDefault;
}

function showSignin(message) {
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-open').hidden = true;
  $('signout').hidden = true;
  $('who').textContent = '';
  // Nothing listed under the previous identity stays on the page.
  $('pods').replaceChildren();
  $('recording-list').replaceChildren();
  clearInterval(state.recordingsTimer);
  state.recordingsTimer = null;
  state.recordingsSeen = null;
  for (const id of ['open-form', 'files', 'recordings', 'side-toggle']) $(id).hidden = true;
  state.target = null;
  $('signin-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

async function showApp() {
  const token = getToken();
  $('signin').hidden = true;
  $('app').hidden = false;
  $('side-toggle').hidden = false;
  const who = state.who;
  const ssoUser = !token && state.sso && state.sso.user;
  // A server that takes no sign-in gets no sign-in UI.
  const signIn = !who || who.signIn || !!state.sso;
  const anonymous = !who || !who.user || who.user === 'system:anonymous';
  $('who').textContent = !signIn ? '' : ssoUser ? 'signed in as ' + ssoUser
    : anonymous ? (token ? 'signed in with a token' : 'not signed in') : 'signed in as ' + who.user;
  $('signin-open').hidden = !signIn || !!token || !!ssoUser;
  $('signout').hidden = !signIn || !(token || ssoUser);
  state.loadSessions ||= wireSessions({ nav: $('side'), addPane, select, closed, isShown: () => !$('app').hidden,
    paneOpts: () => ({ onAction: act, fontSize: state.fontSize }) });
  await Promise.all([loadNamespaces(), loadRecordings(), state.loadSessions()]);
  await pickFromHash();
}

// loadRecordings lists the recordings the server lets this user see, at
// recordings/ beside the page; a server that keeps none says so
// ("enabled": false) and the section stays hidden.
async function loadRecordings() {
  let list;
  try {
    list = await api.get('recordings/');
  } catch {
    $('recordings').hidden = true;
    return;
  }
  if (list.enabled === false) {
    $('recordings').hidden = true;
    return;
  }
  watchRecordings();
  const seen = JSON.stringify((list.items || []).map((r) => [r.name, r.title, r.timestamp, r.duration, r.owner]));
  if (seen === state.recordingsSeen && !$('recordings').hidden) return; // unchanged: keep the DOM
  state.recordingsSeen = seen;
  const span = (cls, text) => Object.assign(document.createElement('span'), { className: cls, textContent: text });
  const items = (list.items || []).map((rec) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'recording';
    b.dataset.name = rec.name;
    const what = rec.verb === 'attach' ? 'attach' : rec.command || rec.title || rec.name;
    const where = rec.pod ? `${rec.namespace ? rec.namespace + '/' : ''}${rec.pod}${rec.container ? ' · ' + rec.container : ''}` : '';
    const when = rec.timestamp ? new Date(rec.timestamp * 1000).toLocaleString() : '';
    b.title = rec.title || rec.name;
    b.append(span('rec-command', what));
    if (where) b.append(span('cstate rec-pod', where));
    const meta = document.createElement('span');
    meta.className = 'cstate rec-meta';
    if (rec.owner) meta.append(span('rec-user', rec.owner), ' · ');
    meta.append(span('rec-start', when), ' · ', span('rec-duration', fmtDuration(rec.duration || 0)));
    b.append(meta);
    b.addEventListener('click', () => openRecording(rec));
    const li = document.createElement('li');
    li.append(b);
    return li;
  });
  if (items.length === 0) items.push(Object.assign(document.createElement('li'), { textContent: 'No recordings.' }));
  $('recording-list').replaceChildren(...items);
  $('recordings').hidden = false;
}

// fmtDuration writes seconds as m:ss or h:mm:ss.
function fmtDuration(sec) {
  const t = Math.round(sec);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

// watchRecordings lists the recordings again every recordingsPoll while
// the page is shown, so a new one appears without a refresh; it stops when
// the user signs out.
const recordingsPoll = 5000;
function watchRecordings() {
  if (state.recordingsTimer) return;
  state.recordingsTimer = setInterval(() => {
    if (document.visibilityState === 'visible' && !$('app').hidden) loadRecordings();
  }, recordingsPoll);
}

// openRecording opens a player tab; the player's code (most of the page's
// bytes) is fetched the first time one is opened.
async function openRecording(rec) {
  const { PlayerPane } = await import('./playerpane.js');
  const pane = new PlayerPane(rec, select, closed);
  addPane(pane);
  pane.load('recordings/' + encodeURIComponent(rec.name));
}

function addPane(pane) {
  state.panes.push(pane);
  pane.mount($('tabs'), $('panes'));
  $('empty').hidden = true;
  select(pane);
}

// enter tries the API with the current token (or none) and shows the app,
// or the sign-in form when the server wants a (different) token.
async function enter() {
  try {
    state.who = await api.get('whoami');
  } catch (err) {
    state.who = null;
    if (err.unauthorized) {
      const had = !!getToken();
      setToken('');
      showSignin(had ? 'The server refused this token.' : '');
      return;
    }
  }
  try {
    await api.namespaces();
  } catch (err) {
    if (err.unauthorized) {
      const had = !!getToken();
      setToken('');
      showSignin(had ? 'The server refused this token.' : '');
      return;
    }
    if (err.status === 0) {
      showSignin(err.message);
      return;
    }
    // Signed in but not allowed to list namespaces (or the server does not
    // serve them): the app still works in a namespace typed by hand.
  }
  await showApp();
}

// loadNamespaces offers the namespaces the user may list; when listing is
// refused, the namespace field keeps what was typed (default: "default").
async function loadNamespaces() {
  const input = $('namespace');
  let note = '';
  try {
    const names = await api.namespaces();
    $('namespaces').replaceChildren(...names.map((n) => new Option(n, n)));
    if (!input.value.trim()) input.value = names.includes('default') ? 'default' : names[0] || '';
  } catch (err) {
    if (err.unauthorized || err.status === 0) return listFailed(err);
    note = `Cannot list namespaces (${err.message}); type one.`;
  }
  await loadPods();
  if (note) $('list-error').textContent = note;
}

async function loadPods() {
  const ns = $('namespace').value.trim();
  const list = $('pods');
  if (!ns) {
    list.replaceChildren();
    return;
  }
  let pods;
  try {
    pods = await api.pods(ns);
  } catch (err) {
    return listFailed(err);
  }
  $('list-error').textContent = '';
  list.replaceChildren(...pods.map(podItem));
  if (pods.length === 0) list.append(Object.assign(document.createElement('li'), { textContent: 'No pods.' }));
  // A picked container whose pod is no longer listed is not a target.
  const t = state.target;
  if (t && !pods.some((p) => p.namespace === t.namespace && p.name === t.pod && p.containers.some((c) => c.name === t.container))) {
    state.target = null;
    $('open-form').hidden = true;
    $('files').hidden = true;
  }
}

function listFailed(err) {
  if (err.unauthorized) {
    setToken('');
    showSignin('Your session expired or the token was refused; sign in again.');
    return;
  }
  $('list-error').textContent = err.message;
}

function podItem(p) {
  const li = document.createElement('li');
  li.className = 'pod';
  li.dataset.pod = p.name;
  const head = document.createElement('div');
  head.className = 'pod-head';
  head.append(Object.assign(document.createElement('span'), { className: 'pod-name', textContent: p.name }),
    Object.assign(document.createElement('span'), { className: 'phase phase-' + p.phase.toLowerCase(), textContent: p.phase }));
  const ul = document.createElement('ul');
  for (const c of p.containers) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'container';
    b.dataset.container = c.name;
    b.title = `${c.state}${c.ready ? ', ready' : ''}${c.tty ? ', tty' : ''}`;
    const name = Object.assign(document.createElement('span'), { textContent: c.name });
    if (c.isDefault && p.containers.length > 1) {
      // The one kubectl exec and logs use when none is named.
      name.append(' ', Object.assign(document.createElement('span'), { className: 'default-mark', textContent: 'default', title: 'the default container' }));
    }
    if (c.ephemeral) {
      name.append(' ', Object.assign(document.createElement('span'), {
        className: 'ephemeral-mark', textContent: 'ephemeral', title: 'an ephemeral container (kubectl debug): never restarted',
      }));
    }
    b.append(name, Object.assign(document.createElement('span'), { className: 'cstate', textContent: c.state }));
    b.addEventListener('click', () => pick({ namespace: p.namespace, pod: p.name, container: c.name, tty: c.tty }));
    const li2 = document.createElement('li');
    li2.append(b);
    ul.append(li2);
  }
  li.append(head, ul);
  return li;
}

// shellArgv runs bash when the container has it, else sh: what a person
// opening "a shell" wants, as Headlamp and Lens do.
const shellArgv = ['/bin/sh', '-c', 'if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi'];

// The page's address names the picked container, #/NAMESPACE/POD/CONTAINER,
// so it can be bookmarked and shared: opening it picks that container
// (it never runs anything by itself).
function targetHash(t) {
  return '#/' + [t.namespace, t.pod, t.container].map(encodeURIComponent).join('/');
}

function hashTarget() {
  const parts = location.hash.replace(/^#\//, '').split('/');
  if (parts.length !== 3 || parts.some((p) => !p)) return null;
  try {
    const [namespace, pod, container] = parts.map(decodeURIComponent);
    return { namespace, pod, container };
  } catch {
    return null;
  }
}

// pickFromHash picks the container the address names, once the pods of
// its namespace are listed.
async function pickFromHash() {
  const want = hashTarget();
  if (!want) return;
  if ($('namespace').value.trim() !== want.namespace) {
    $('namespace').value = want.namespace;
    await loadPods();
  }
  const b = document.querySelector(`.pod[data-pod="${CSS.escape(want.pod)}"] button[data-container="${CSS.escape(want.container)}"]`);
  if (b) b.click();
  else $('list-error').textContent = `${want.namespace}/${want.pod} · ${want.container} (from the address) is not listed`;
}

function pick(target) {
  state.target = target;
  if (location.hash !== targetHash(target)) history.replaceState(null, '', targetHash(target));
  $('open-target').textContent = `${target.namespace}/${target.pod} · ${target.container}`;
  $('open-form').hidden = false;
  $('files').hidden = false;
  $('command').focus();
}

function openTerminal(ev) {
  ev.preventDefault();
  const t = state.target;
  if (!t) return;
  const mode = new FormData($('open-form')).get('mode');
  let argv = [];
  if (mode === 'exec') {
    try {
      argv = splitArgs($('command').value);
    } catch (err) {
      $('list-error').textContent = 'command: ' + err.message;
      return;
    }
    if (argv.length === 0) argv = shellArgv; // empty: bash if present, else sh
  }
  // exec gets a tty when asked; attach must match the container's.
  const tty = mode === 'exec' ? $('tty').checked : t.tty;
  const pane = new Pane({ ...t, mode, argv, tty, shell: argv === shellArgv }, select, closed, { onAction: act, fontSize: state.fontSize });
  addPane(pane);
  terminalOpened();
  pane.connect();
}

// select shows pane; it takes the keyboard unless focus is false.
function select(pane, focus = true) {
  state.active = pane;
  for (const p of state.panes) if (p !== pane) p.show(false);
  pane.show(true, focus);
}

// act does a page-wide action asked by a key or a pane's button.
function act(pane, action) {
  switch (action) {
    case 'prevTab':
    case 'nextTab': {
      const i = state.panes.indexOf(state.active);
      if (i < 0 || state.panes.length < 2) return;
      const n = state.panes.length;
      const next = state.panes[(i + (action === 'nextTab' ? 1 : n - 1)) % n];
      const inTabs = $('tabs').contains(document.activeElement);
      select(next, !inTabs);
      if (inTabs) next.label.focus();
      return;
    }
    case 'fontUp':
    case 'fontDown':
    case 'fontReset':
      state.fontSize = nextFontSize(state.fontSize, action);
      localStorage.setItem('porthole.fontSize', String(state.fontSize));
      for (const p of state.panes) if (p.setFontSize) p.setFontSize(state.fontSize);
      return;
    case 'copy':
      pane.copy();
      return;
    case 'paste':
      pane.paste();
      return;
    case 'search':
      pane.openSearch();
      return;
    case 'leave':
      pane.label.focus();
      return;
    default:
  }
}

// onKey takes the page's shortcuts (see keys.js) before the terminal sees
// them: it listens in the capture phase, on the window.
function onKey(ev) {
  const pane = state.active;
  if ($('app').hidden) return;
  const where = pane && pane.focused ? 'terminal' : $('tabs').contains(document.activeElement) ? 'tabs' : 'page';
  const action = keyAction(ev, where, where === 'terminal' && pane.term.hasSelection());
  if (action === 'toggleSide') {
    ev.preventDefault();
    ev.stopPropagation();
    toggleSide({ focus: true, focusTerminal });
    return;
  }
  if (!pane) return;
  if (action) {
    ev.preventDefault();
    ev.stopPropagation();
    act(pane, action);
    return;
  }
  // The tab strip is a tablist: the arrows, Home and End pick a tab.
  if (where === 'tabs' && !ev.ctrlKey && !ev.altKey && !ev.metaKey) {
    const i = state.panes.indexOf(pane);
    const n = state.panes.length;
    const to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: n - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const next = state.panes[(to + n) % n];
    select(next, false);
    next.label.focus();
  }
}

// watchServer asks the server's /readyz every serverPoll while a session
// runs: a server shutting down stops answering it (or answers 503) at
// once, while its sessions get a grace period before they are cut, so
// the tabs can say so instead of "connected".
const serverPoll = 2000;
function watchServer() {
  setInterval(async () => {
    const live = state.panes.filter((p) => p.live && p.serverLeaving);
    if (live.length === 0) return;
    let leaving = '';
    try {
      const resp = await fetch('/readyz', { cache: 'no-store', credentials: 'omit' });
      if (resp.status === 503) leaving = 'the server is shutting down: this session will be ended';
    } catch {
      leaving = 'the server does not answer (shutting down, or the network is down): this session may end';
    }
    for (const p of live) {
      if (leaving) p.serverLeaving(leaving);
      else p.serverBack();
    }
  }, serverPoll);
}

// showKeys lists the shortcuts in the page's help.
function showKeys() {
  $('keys-list').replaceChildren(...shortcuts.flatMap(([k, what]) => [
    Object.assign(document.createElement('dt'), { textContent: k }),
    Object.assign(document.createElement('dd'), { textContent: what }),
  ]));
}

// focusTerminal puts the keyboard in the shown terminal, if any.
function focusTerminal() {
  if (state.active && state.active.term) state.active.term.focus();
}

function closed(pane) {
  state.panes = state.panes.filter((p) => p !== pane);
  if (state.active === pane) {
    const next = state.panes[state.panes.length - 1] || null;
    state.active = null;
    if (next) select(next);
  }
  $('empty').hidden = state.panes.length > 0;
}

async function signIn(ev) {
  ev.preventDefault();
  const token = $('token').value.trim();
  if (!token) {
    $('signin-error').textContent = 'Paste a token, or continue without one.';
    return;
  }
  setToken(token);
  $('token').value = '';
  await enter();
}

async function signOut() {
  for (const p of [...state.panes]) p.dispose();
  setToken('');
  if (state.sso && state.sso.user) {
    state.sso.user = '';
    await fetch(state.sso.logout, { method: 'POST', credentials: 'same-origin' }).catch(() => {});
  }
  showSignin('Signed out.');
}

// loadSSO asks whether the server signs users in through an identity
// provider (and who the session cookie names); if so the sign-in form
// offers it.
async function loadSSO() {
  try {
    const resp = await fetch('/oidc/session', { credentials: 'same-origin', cache: 'no-store' });
    if (!resp.ok) return;
    const sso = await resp.json();
    if (!sso.login) return; // the server signs in with tokens only
    state.sso = sso;
  } catch {
    return;
  }
  $('signin-sso-link').href = state.sso.login + '?then=' + encodeURIComponent(location.pathname);
  $('signin-sso').hidden = false;
}

function init() {
  $('signin-form').addEventListener('submit', signIn);
  $('signin-anon').addEventListener('click', () => {
    setToken('');
    enter();
  });
  $('signin-open').addEventListener('click', () => showSignin(''));
  $('signout').addEventListener('click', signOut);
  $('namespace').addEventListener('change', loadPods);
  $('refresh').addEventListener('click', () => Promise.all([loadNamespaces(), loadRecordings()]));
  $('open-form').addEventListener('submit', openTerminal);
  wireFiles(() => state.target);
  wireSidebar(() => state.panes.length > 0, focusTerminal);
  window.addEventListener('keydown', onKey, true);
  showKeys();
  watchServer();
  // Leaving or reloading the page ends every session: the browser asks
  // first while one runs.
  window.addEventListener('beforeunload', (ev) => {
    if (state.panes.some((p) => p.live)) ev.preventDefault();
  });
  loadSSO().then(enter);
}

init();

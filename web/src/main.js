// main.js wires the page: sign-in, the namespace/pod/container list and the
// terminal tabs. It runs from a same-origin script file (the content
// security policy allows no inline script) and talks only to its origin.
import * as api from './api.js';
import { getToken, setToken } from './auth.js';
import { splitArgs } from './argv.js';
import { Pane } from './pane.js';
import { wireFiles } from './filesui.js';

const $ = (id) => document.getElementById(id);

const state = {
  panes: [],
  active: null,
  target: null, // {namespace, pod, container, tty} picked in the list
  recordingsTimer: null, // re-lists the recordings while signed in
  recordingsSeen: null, // what the recordings list shows, to skip redrawing it
  sso: null, // {login, logout, user} when the server signs users in through a provider
};

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
  for (const id of ['open-form', 'files', 'recordings']) $(id).hidden = true;
  state.target = null;
  $('signin-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

async function showApp() {
  const token = getToken();
  $('signin').hidden = true;
  $('app').hidden = false;
  const ssoUser = !token && state.sso && state.sso.user;
  $('who').textContent = token ? 'signed in with a token' : ssoUser ? 'signed in as ' + ssoUser : 'no token';
  $('signin-open').hidden = !!(token || ssoUser);
  $('signout').hidden = !(token || ssoUser);
  await Promise.all([loadNamespaces(), loadRecordings()]);
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
  const seen = JSON.stringify((list.items || []).map((r) => [r.name, r.title, r.timestamp]));
  if (seen === state.recordingsSeen && !$('recordings').hidden) return; // unchanged: keep the DOM
  state.recordingsSeen = seen;
  const items = (list.items || []).map((rec) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'recording';
    b.dataset.name = rec.name;
    const when = rec.timestamp ? new Date(rec.timestamp * 1000).toLocaleString() : '';
    b.append(Object.assign(document.createElement('span'), { textContent: rec.title || rec.name }),
      Object.assign(document.createElement('span'), { className: 'cstate', textContent: when }));
    b.addEventListener('click', () => openRecording(rec));
    const li = document.createElement('li');
    li.append(b);
    return li;
  });
  if (items.length === 0) items.push(Object.assign(document.createElement('li'), { textContent: 'No recordings.' }));
  $('recording-list').replaceChildren(...items);
  $('recordings').hidden = false;
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
    b.append(Object.assign(document.createElement('span'), { textContent: c.name }),
      Object.assign(document.createElement('span'), { className: 'cstate', textContent: c.state }));
    b.addEventListener('click', () => pick({ namespace: p.namespace, pod: p.name, container: c.name, tty: c.tty }));
    const li2 = document.createElement('li');
    li2.append(b);
    ul.append(li2);
  }
  li.append(head, ul);
  return li;
}

function pick(target) {
  state.target = target;
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
    if (argv.length === 0) argv = ['sh'];
  }
  // exec gets a tty when asked; attach must match the container's.
  const tty = mode === 'exec' ? $('tty').checked : t.tty;
  const pane = new Pane({ ...t, mode, argv, tty }, select, closed);
  addPane(pane);
  pane.connect();
}

function select(pane) {
  state.active = pane;
  for (const p of state.panes) p.show(p === pane);
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
  // Leaving or reloading the page ends every session: the browser asks
  // first while one runs.
  window.addEventListener('beforeunload', (ev) => {
    if (state.panes.some((p) => p.live)) ev.preventDefault();
  });
  loadSSO().then(enter);
}

init();

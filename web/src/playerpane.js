// playerpane.js is a tab that plays one recording in asciinema-player, with
// the player's own controls (play/pause, seek bar, keyboard shortcuts). It
// has the same surface as Pane (tab, root, mount, show, dispose) so the tab
// strip treats both alike.
//
// The page fetches the recording itself, with the Authorization header of
// its API calls, and hands the text to the player: the player's own fetch
// would go without the token. The player's terminal core is WebAssembly
// (inlined in the bundle), which is why the page's content security policy
// allows 'wasm-unsafe-eval' in script-src.
import * as AsciinemaPlayer from 'asciinema-player';
import { parseCast } from './cast.js';
import { authHeaders } from './auth.js';

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

export class PlayerPane {
  constructor(rec, onSelect, onClose) {
    this.rec = rec;
    this.onClose = onClose;
    this.title = `▶ ${rec.title || rec.name}`;
    this.tab = el('div', { class: 'tab', role: 'presentation' });
    const label = el('button', { type: 'button', class: 'tab-label', role: 'tab', 'aria-selected': 'false' }, this.title);
    this.label = label;
    const x = el('button', { type: 'button', class: 'tab-close', title: 'Close tab', 'aria-label': 'Close tab' }, '×');
    label.addEventListener('click', () => onSelect(this));
    x.addEventListener('click', () => this.dispose());
    this.tab.append(label, x);

    // data-state: loading, failed, playing, paused, ended.
    this.root = el('div', { class: 'pane player', 'data-state': 'loading' });
    const bar = el('div', { class: 'bar' });
    this.statusLine = el('span', { class: 'status', role: 'status' }, 'loading…');
    // Download saves the .cast the page fetched (with the token, which a
    // plain link would not send).
    this.downloadButton = el('button', { type: 'button', class: 'download-cast', title: 'Save the recording as a .cast file' }, 'Download');
    this.downloadButton.disabled = true;
    this.downloadButton.addEventListener('click', () => this.download());
    // Speed: the player takes it when created, so a change re-creates
    // it at the position reached.
    this.speedSelect = el('select', { class: 'speed', title: 'Playback speed', 'aria-label': 'Playback speed' });
    for (const v of ['0.5', '1', '2', '4', '8']) this.speedSelect.append(new Option(v + '×', v, false, v === '1'));
    this.speedSelect.disabled = true;
    this.speedSelect.addEventListener('change', () => this.setSpeed(Number(this.speedSelect.value)));
    bar.append(el('span', { class: 'name' }, rec.name), this.statusLine, this.speedSelect, this.downloadButton);
    this.host = el('div', { class: 'cast' });
    this.root.append(bar, this.host);
  }

  mount(tabs, panes) {
    tabs.append(this.tab);
    panes.append(this.root);
  }

  show(on) {
    this.root.hidden = !on;
    this.tab.classList.toggle('active', on);
    this.label.setAttribute('aria-selected', String(on));
    this.label.tabIndex = on ? 0 : -1;
  }

  // load fetches the recording, checks that it is an asciicast v2 file (the
  // player would only show a blank error overlay) and starts playing it.
  async load(url) {
    let text;
    try {
      const resp = await fetch(url, { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
      if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
      text = await resp.text();
      parseCast(text);
    } catch (err) {
      this.setState('failed', 'cannot play: ' + err.message);
      return;
    }
    if (this.disposed) return;
    this.text = text;
    this.downloadButton.disabled = false;
    this.speedSelect.disabled = false;
    this.play(1, 0);
  }

  // play (re)creates the player at speed from startAt seconds.
  play(speed, startAt) {
    if (this.player) this.player.dispose();
    this.host.replaceChildren();
    this.player = AsciinemaPlayer.create({ data: this.text }, this.host, {
      autoPlay: true,
      controls: true,
      fit: 'both',
      speed,
      startAt,
      terminalFontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace',
    });
    this.player.addEventListener('play', () => this.setState('playing', ''));
    this.player.addEventListener('playing', () => this.setState('playing', ''));
    this.player.addEventListener('pause', () => this.setState('paused', 'paused'));
    this.player.addEventListener('ended', () => this.setState('ended', 'ended'));
  }

  async setSpeed(speed) {
    if (!this.player || !(speed > 0)) return;
    let at = 0;
    try {
      if (this.root.dataset.state !== 'ended') at = Number(await this.player.getCurrentTime()) || 0;
    } catch {
      // a player that cannot say restarts from the beginning
    }
    if (this.disposed) return;
    this.root.dataset.speed = String(speed);
    this.play(speed, at);
  }

  download() {
    if (!this.text) return;
    const url = URL.createObjectURL(new Blob([this.text], { type: 'application/x-asciicast' }));
    const a = el('a', { href: url, download: this.rec.name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  setState(state, status) {
    this.root.dataset.state = state;
    this.statusLine.textContent = status;
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    if (this.player) this.player.dispose();
    this.tab.remove();
    this.root.remove();
    this.onClose(this);
  }
}

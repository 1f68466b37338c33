// playerpane.js is a tab that plays one recording, with play/pause, speed
// and a position slider. It has the same surface as Pane (tab, root,
// mount, show, dispose) so the tab strip treats both alike.
import { Terminal } from '@xterm/xterm';
import { Player, parseCast } from './cast.js';
import { authHeaders } from './auth.js';

function el(tag, attrs = {}, text = '') {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text) e.textContent = text;
  return e;
}

function clock(s) {
  const m = Math.floor(s / 60);
  return `${m}:${String(Math.floor(s % 60)).padStart(2, '0')}`;
}

export class PlayerPane {
  constructor(rec, onSelect, onClose) {
    this.rec = rec;
    this.onClose = onClose;
    this.title = `▶ ${rec.title || rec.name}`;
    this.tab = el('div', { class: 'tab', role: 'tab' });
    const label = el('button', { type: 'button', class: 'tab-label' }, this.title);
    const x = el('button', { type: 'button', class: 'tab-close', title: 'Close tab', 'aria-label': 'Close tab' }, '×');
    label.addEventListener('click', () => onSelect(this));
    x.addEventListener('click', () => this.dispose());
    this.tab.append(label, x);

    this.root = el('div', { class: 'pane player', 'data-state': 'loading' });
    const bar = el('div', { class: 'bar' });
    this.playButton = el('button', { type: 'button', class: 'play' }, 'Play');
    this.speed = el('select', { class: 'speed', 'aria-label': 'Speed' });
    for (const s of [1, 2, 4, 8]) this.speed.append(new Option(`${s}×`, String(s)));
    this.slider = el('input', { type: 'range', class: 'seek', min: '0', max: '0', step: '0.01', value: '0', 'aria-label': 'Position' });
    this.time = el('span', { class: 'time' }, '0:00 / 0:00');
    this.statusLine = el('span', { class: 'status', role: 'status' }, 'loading…');
    bar.append(this.playButton, this.speed, this.slider, this.time, this.statusLine);
    this.host = el('div', { class: 'term' });
    this.root.append(bar, this.host);
    this.term = new Terminal({ cols: rec.width, rows: rec.height, disableStdin: true, convertEol: false,
      fontFamily: 'DejaVu Sans Mono, Menlo, Consolas, monospace', fontSize: 14, scrollback: 1000 });
  }

  mount(tabs, panes) {
    tabs.append(this.tab);
    panes.append(this.root);
    this.term.open(this.host);
  }

  show(on) {
    this.root.hidden = !on;
    this.tab.classList.toggle('active', on);
    this.tab.setAttribute('aria-selected', String(on));
  }

  // load fetches the recording and starts playing it.
  async load(url) {
    let cast;
    try {
      const resp = await fetch(url, { headers: authHeaders(), cache: 'no-store', credentials: 'omit' });
      if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
      cast = parseCast(await resp.text());
    } catch (err) {
      this.root.dataset.state = 'failed';
      this.statusLine.textContent = 'cannot play: ' + err.message;
      return;
    }
    if (this.disposed) return;
    this.player = new Player(this.term, cast, () => this.update());
    this.slider.max = String(cast.duration);
    this.playButton.addEventListener('click', () => (this.player.playing ? this.player.pause() : this.player.play()));
    this.speed.addEventListener('change', () => this.player.setSpeed(Number(this.speed.value)));
    this.slider.addEventListener('input', () => this.player.seek(Number(this.slider.value)));
    this.statusLine.textContent = '';
    this.player.play();
  }

  update() {
    const p = this.player;
    this.root.dataset.state = p.playing ? 'playing' : p.next >= p.events.length ? 'ended' : 'paused';
    this.playButton.textContent = p.playing ? 'Pause' : 'Play';
    this.slider.value = String(p.pos);
    this.time.textContent = `${clock(p.pos)} / ${clock(p.duration)}`;
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    if (this.player) this.player.dispose();
    this.term.dispose();
    this.tab.remove();
    this.root.remove();
    this.onClose(this);
  }
}

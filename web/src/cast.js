// cast.js reads asciicast v2 recordings (a JSON header line, then one JSON
// array [seconds, code, data] per line) and plays their output events into
// an xterm.js terminal. The page plays recordings with the terminal it
// already ships rather than asciinema-player, whose WebAssembly core would
// need 'wasm-unsafe-eval' in the content security policy.

// parseCast returns {header, events: [{t, data}], duration} with the
// output ("o") events in time order, or throws on a malformed recording.
export function parseCast(text) {
  const lines = text.split('\n');
  let header;
  try {
    header = JSON.parse(lines[0]);
  } catch {
    throw new Error('not an asciicast recording');
  }
  if (!header || header.version !== 2 || !(header.width > 0) || !(header.height > 0)) {
    throw new Error('not an asciicast v2 recording');
  }
  const events = [];
  let last = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    let ev;
    try {
      ev = JSON.parse(lines[i]);
    } catch {
      throw new Error(`line ${i + 1}: not JSON`);
    }
    if (!Array.isArray(ev) || typeof ev[0] !== 'number' || !(ev[0] >= 0) || typeof ev[2] !== 'string') {
      throw new Error(`line ${i + 1}: not an event`);
    }
    if (ev[1] !== 'o') continue; // input, markers, resizes: not replayed
    last = Math.max(last, ev[0]); // out-of-order times play at once
    events.push({ t: last, data: ev[2] });
  }
  return { header, events, duration: last };
}

// Player plays a parsed recording into term. onTick() is called whenever
// the position or the playing state changes.
export class Player {
  constructor(term, cast, onTick) {
    this.term = term;
    this.events = cast.events;
    this.duration = cast.duration;
    this.onTick = onTick;
    this.speed = 1;
    this.pos = 0; // seconds shown
    this.next = 0; // first event not yet written
    this.playing = false;
    this.timer = null;
  }

  play() {
    if (this.playing) return;
    if (this.next >= this.events.length) this.seek(0);
    this.playing = true;
    this.rebase();
    this.tick();
  }

  pause() {
    this.playing = false;
    clearTimeout(this.timer);
    this.onTick();
  }

  setSpeed(s) {
    this.speed = s;
    this.rebase();
  }

  // seek redraws the screen as it was at t seconds.
  seek(t) {
    clearTimeout(this.timer);
    this.term.reset();
    this.next = 0;
    this.pos = 0;
    this.advance(Math.max(0, Math.min(t, this.duration)));
    this.rebase();
    if (this.playing) this.tick();
  }

  rebase() {
    this.wall = performance.now();
    this.base = this.pos;
  }

  advance(pos) {
    let chunk = '';
    while (this.next < this.events.length && this.events[this.next].t <= pos) chunk += this.events[this.next++].data;
    if (chunk) this.term.write(chunk);
    this.pos = Math.min(pos, this.duration);
    this.onTick();
  }

  tick() {
    if (!this.playing) return;
    this.advance(this.base + ((performance.now() - this.wall) / 1000) * this.speed);
    if (this.next >= this.events.length) {
      this.playing = false;
      this.pos = this.duration;
      this.onTick();
      return;
    }
    const wait = ((this.events[this.next].t - this.pos) / this.speed) * 1000;
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.min(wait, 250)));
  }

  dispose() {
    this.playing = false;
    clearTimeout(this.timer);
  }
}

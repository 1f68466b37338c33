// cast.js reads asciicast v2 recordings (a JSON header line, then one JSON
// array [seconds, code, data] per line). The page checks a recording with
// it before handing it to asciinema-player, so that a damaged or foreign
// file gets a message saying what is wrong instead of the player's blank
// error overlay.

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

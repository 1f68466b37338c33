// textbuf.js reads xterm.js's buffer as text for the search and the links:
// a logical line is a row and the rows wrapped after it, and every
// character keeps the cell (row, column) it sits in, so a match in the text
// maps back to a selection or a link range even with wide characters.
//
// buffer is xterm's IBuffer (length, getLine(y) with isWrapped and
// getCell(x, cell) with getChars() and getWidth()); cols is the
// terminal's width.

// logicalLine returns the logical line holding row y: {first, last, text,
// cells}, where cells[i] = [row, col, width] of the cell that holds
// text's i-th UTF-16 unit.
export function logicalLine(buffer, y, cols) {
  let first = y;
  while (first > 0 && buffer.getLine(first)?.isWrapped) first--;
  let last = y;
  while (last + 1 < buffer.length && buffer.getLine(last + 1)?.isWrapped) last++;
  let text = '';
  const cells = [];
  for (let row = first; row <= last; row++) {
    const line = buffer.getLine(row);
    if (!line) break;
    let cell;
    for (let x = 0; x < cols; x++) {
      cell = line.getCell(x, cell);
      if (!cell) break;
      if (cell.getWidth() === 0) continue; // the second half of a wide character
      const chars = cell.getChars() || ' ';
      const w = cell.getWidth();
      for (let i = 0; i < chars.length; i++) cells.push([row, x, w]);
      text += chars;
    }
  }
  // Trailing blanks are padding, not text.
  const trimmed = text.replace(/\s+$/, '');
  return { first, last, text: trimmed, cells: cells.slice(0, trimmed.length) };
}

// findInBuffer looks for query (case-insensitive unless it has capitals)
// from position from = [row, col] (exclusive), backwards (older) or
// forwards, wrapping around the buffer. It returns {row, col, length} in
// cells, or null.
export function findInBuffer(buffer, cols, query, from, backwards) {
  if (!query) return null;
  const fold = query === query.toLowerCase();
  const needle = fold ? query.toLowerCase() : query;
  const lines = [];
  for (let y = 0; y < buffer.length;) {
    const l = logicalLine(buffer, y, cols);
    lines.push(l);
    y = l.last + 1;
  }
  const matches = [];
  for (const l of lines) {
    const hay = fold ? l.text.toLowerCase() : l.text;
    for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
      if (!l.cells[i + needle.length - 1]) break; // case folding changed the length
      const [row, col] = l.cells[i];
      const [endRow, endCol, endWidth] = l.cells[i + needle.length - 1];
      matches.push({ row, col, length: (endRow - row) * cols + endCol + endWidth - col });
    }
  }
  if (matches.length === 0) return null;
  const before = (m) => m.row < from[0] || (m.row === from[0] && m.col < from[1]);
  const after = (m) => m.row > from[0] || (m.row === from[0] && m.col > from[1]);
  if (backwards) return matches.filter(before).pop() || matches[matches.length - 1];
  return matches.find(after) || matches[0];
}

// urlPattern finds http and https addresses; other schemes (javascript:,
// data:, file:) are never links.
const urlPattern = /\bhttps?:\/\/[^\s"'<>`\u0000-\u001f]+/g;

// findURLs returns the addresses in text as [{index, url}], without the
// punctuation that usually ends a sentence or closes a parenthesis the
// address did not open.
export function findURLs(text) {
  const out = [];
  for (const m of text.matchAll(urlPattern)) {
    let url = m[0];
    for (;;) {
      const last = url[url.length - 1];
      if ('.,;:!?\'"'.includes(last)) url = url.slice(0, -1);
      else if (last === ')' && count(url, '(') < count(url, ')')) url = url.slice(0, -1);
      else if (last === ']' && count(url, '[') < count(url, ']')) url = url.slice(0, -1);
      else break;
    }
    try {
      new URL(url);
    } catch {
      continue;
    }
    if (url.length > 'https://'.length) out.push({ index: m.index, url });
  }
  return out;
}

function count(s, ch) {
  return s.split(ch).length - 1;
}

// linksAt returns the links on row y (0-based) as xterm's ILink ranges
// (1-based, end inclusive) with their URL.
export function linksAt(buffer, y, cols) {
  const l = logicalLine(buffer, y, cols);
  const out = [];
  for (const { index, url } of findURLs(l.text)) {
    const [sr, sc] = l.cells[index];
    const [er, ec, ew] = l.cells[index + url.length - 1];
    if (sr > y || er < y) continue;
    out.push({ url, range: { start: { x: sc + 1, y: sr + 1 }, end: { x: ec + ew, y: er + 1 } } });
  }
  return out;
}

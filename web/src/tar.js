// tar.js writes and reads the tar archives that carry files over exec, as
// `kubectl cp` does: upload streams a ustar archive of files and
// directories into `tar -xmf - -C DIR`, download reads the output of
// `tar cf - -C DIR NAME`. Only what that needs: regular files and
// directories, ustar headers with a pax path record for a path that does
// not fit them, and on reading the pax ('x') and GNU long-name ('L')
// records GNU tar writes for long names.

const BLOCK = 512;
const enc = new TextEncoder();
const dec = new TextDecoder();

function putString(h, off, len, s) {
  const b = enc.encode(s);
  if (b.length > len) throw new Error(`tar field too long: ${s}`);
  h.set(b, off);
}

function putOctal(h, off, len, n) {
  putString(h, off, len, n.toString(8).padStart(len - 1, '0') + '\0');
}

// checkPath refuses a path that is not relative, plain and clean: no
// empty, "." or ".." component, no NUL.
export function checkPath(path) {
  const parts = path.split('/');
  if (!path || path.includes('\0') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`bad path in the upload: ${JSON.stringify(path)}`);
  }
  return parts;
}

// header writes one ustar header block; name and prefix fit their fields.
function header(name, prefix, size, mtimeSeconds, type, mode) {
  const h = new Uint8Array(BLOCK);
  putString(h, 0, 100, name);
  putOctal(h, 100, 8, mode);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, Math.max(0, Math.floor(mtimeSeconds)));
  h.fill(0x20, 148, 156);
  h[156] = type.charCodeAt(0);
  putString(h, 257, 6, 'ustar\0');
  putString(h, 263, 2, '00');
  putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return h;
}

// splitUstar splits path into ustar's prefix and name fields, or returns
// null when it does not fit them.
function splitUstar(path) {
  const len = (x) => enc.encode(x).length;
  if (len(path) <= 100) return ['', path];
  for (let i = path.indexOf('/'); i > 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (len(prefix) <= 155 && len(name) <= 100 && name) return [prefix, name];
  }
  return null;
}

// paxRecord is one "LEN key=value\n" record; LEN counts its own digits.
function paxRecord(key, value) {
  const body = enc.encode(` ${key}=${value}\n`).length;
  let n = body + 1;
  while (String(n).length + body !== n) n = String(n).length + body;
  return enc.encode(`${n} ${key}=${value}\n`);
}

// entryBlocks is the header of an archive entry, path (relative,
// '/'-separated) a directory (dir) or a file of size bytes, whose data
// and padding follow. A path too long for ustar gets a pax header first.
export function entryBlocks(path, { size = 0, mtime = 0, dir = false } = {}) {
  checkPath(path);
  if (size > 0o77777777777) throw new Error(`${path}: larger than 8 GiB`);
  const full = dir ? path + '/' : path;
  const type = dir ? '5' : '0';
  const mode = dir ? 0o755 : 0o644;
  const split = splitUstar(full);
  if (split) return header(split[1], split[0], dir ? 0 : size, mtime, type, mode);
  const rec = paxRecord('path', full);
  const out = new Uint8Array(BLOCK + rec.length + padding(rec.length) + BLOCK);
  out.set(header('PaxHeader/porthole', '', rec.length, mtime, 'x', 0o644), 0);
  out.set(rec, BLOCK);
  const short = full.replace(/\/$/, '').split('/').pop();
  out.set(header(enc.encode(short).length <= 99 ? short + (dir ? '/' : '') : 'long-name', '', dir ? 0 : size, mtime, type, mode), BLOCK + rec.length + padding(rec.length));
  return out;
}

// firstType is the type of the first entry of an archive whose first
// header arrived, past pax and long-name records: 'file', 'dir', 'other'
// or null while unknown.
export function firstType(archive) {
  let off = 0;
  while (off + BLOCK <= archive.length) {
    const h = archive.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0) || !validHeader(h)) return 'other';
    const t = String.fromCharCode(h[156] || 0x30);
    if (t === 'x' || t === 'L' || t === 'g') {
      off += BLOCK + octal(h, 124, 12) + padding(octal(h, 124, 12));
      continue;
    }
    return t === '0' || t === '7' ? 'file' : t === '5' ? 'dir' : 'other';
  }
  return null;
}

// padding is the number of zero bytes after size bytes of file data.
export function padding(size) {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

// trailer ends an archive: two zero blocks.
export const trailer = new Uint8Array(2 * BLOCK);

function field(h, off, len) {
  const s = dec.decode(h.subarray(off, off + len));
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

function octal(h, off, len) {
  const s = field(h, off, len).trim();
  if (!/^[0-7]*$/.test(s)) throw new Error('corrupt tar header');
  return s ? parseInt(s, 8) : 0;
}

function validHeader(h) {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  return sum === octal(h, 148, 8);
}

// paxPath reads the path record of a pax extended header. Record lengths
// count bytes, so records are cut from the bytes before decoding.
function paxPath(data) {
  let path = null;
  for (let i = 0; i < data.length;) {
    const sp = data.indexOf(0x20, i);
    const n = sp < 0 ? NaN : parseInt(dec.decode(data.subarray(i, sp)), 10);
    if (!(n > sp - i + 1) || i + n > data.length) break;
    const rec = dec.decode(data.subarray(sp + 1, i + n - 1));
    const eq = rec.indexOf('=');
    if (rec.slice(0, eq) === 'path') path = rec.slice(eq + 1);
    i += n;
  }
  return path;
}

// firstFile returns {name, data} of the first regular file in archive, or
// throws when it holds none (a directory, say) or is malformed.
export function firstFile(archive) {
  let off = 0;
  let longName = null;
  while (off + BLOCK <= archive.length) {
    const h = archive.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (!validHeader(h)) throw new Error('corrupt tar header');
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const dataStart = off + BLOCK;
    if (dataStart + size > archive.length) throw new Error('truncated tar archive');
    const data = archive.subarray(dataStart, dataStart + size);
    off = dataStart + size + padding(size);
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    const prefix = field(h, 345, 155);
    const name = longName ?? (prefix ? prefix + '/' + field(h, 0, 100) : field(h, 0, 100));
    longName = null;
    if (type === '0' || type === '7') return { name, data };
    if (type === '5') throw new Error(`${name} is a directory`);
    throw new Error(`${name} is not a regular file`);
  }
  throw new Error('no file in the archive');
}

// expectedSize reads the size of the first entry once its header arrived
// (for progress), or null while unknown or when it is not a plain file.
export function expectedSize(head) {
  if (head.length < BLOCK) return null;
  const h = head.subarray(0, BLOCK);
  if (!validHeader(h) || h[156] !== 0x30) return null;
  return octal(h, 124, 12);
}

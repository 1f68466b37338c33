// files.js copies files and directories into or out of a container over
// exec, the way `kubectl cp` does: a tar stream on stdin of
// `tar -xmf - -C DIR`, or on stdout of `tar cf - -C DIR NAME`. Progress is
// reported in bytes.
import { Session, V5, sessionURL } from './session.js';
import { bearerProtocol, getToken } from './auth.js';
import { closeWords, explainRefusal } from './diagnose.js';
import { checkPath, entryBlocks, expectedSize, firstFile, firstType, padding, trailer } from './tar.js';

const CHUNK = 32 * 1024; // stdin bytes per message
const HIGH_WATER = 256 * 1024; // wait while the socket holds more than this unsent

function protocols() {
  const t = getToken();
  return t ? [V5, bearerProtocol(t)] : [V5];
}

// runExec runs argv in the container without a tty. feed(session), if
// given, writes stdin and resolves when done (runExec then closes stdin).
// Resolves with {stdout, stderr} on exit 0; rejects with the tar error
// text, the exit code or the drop otherwise.
// signal, if given, cancels: the session is closed and the promise
// rejects with "cancelled".
function runExec(target, argv, { feed = null, onStdout = () => {}, signal = null } = {}) {
  const exec = { ...target, mode: 'exec', argv, tty: false };
  return new Promise((resolve, reject) => {
    const out = [];
    const errs = [];
    if (signal && signal.aborted) {
      reject(new Error('cancelled'));
      return;
    }
    const s = new Session(sessionURL(exec), protocols(), {
      onOpen: () => {
        if (!feed) return s.closeStdin();
        feed(s).then(() => s.closeStdin(), (err) => {
          // A session that ended stopped the feed (tar failed and exited
          // while stdin still flowed): its exit status or drop says why,
          // and settles the promise.
          if (!s.live) return;
          s.close();
          reject(err);
        });
      },
      // Session reports stdout and stderr together; tar writes only its
      // archive to stdout, so the caller tells them apart by its own parse.
      onOutput: (b, channel) => {
        if (channel === 2) errs.push(b.slice());
        else {
          out.push(b.slice());
          onStdout(b);
        }
      },
      onExit: (r) => {
        const stderr = new TextDecoder().decode(concat(errs)).trim();
        if (r.code === 0) resolve({ stdout: concat(out), stderr });
        else reject(new Error(stderr || (r.code === null ? r.message : `exit code ${r.code}`)));
      },
      onDrop: (r) => {
        if (r.opened) {
          reject(new Error(`connection lost: ${closeWords(r.code, r.reason)}`));
          return;
        }
        // A refused upgrade is close 1006 with no reason: say why.
        explainRefusal(exec).then((why) => reject(new Error(`could not connect: ${why}`)), reject);
      },
    });
    if (signal) {
      signal.addEventListener('abort', () => {
        reject(new Error('cancelled')); // first: the close below settles nothing more
        s.close();
      }, { once: true });
    }
  });
}

function concat(chunks) {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return all;
}

// drained resolves once the socket's send buffer is below the high-water
// mark: backpressure instead of queueing a whole file in the browser. It
// waits while a cut connection resumes.
function drained(s) {
  return s.waitDrained(HIGH_WATER);
}

// uploadPlan orders what an upload writes: each directory before what it
// holds, once. items are Files (a picked folder's carry their
// webkitRelativePath), {file, path} (a dropped folder's) or {dir: path}
// (an empty dropped folder).
export function uploadPlan(items) {
  const plan = [];
  const dirs = new Set();
  const addDirs = (parts) => {
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!dirs.has(d)) {
        dirs.add(d);
        plan.push({ dir: d });
      }
    }
  };
  for (const it of items) {
    if (it.dir !== undefined) {
      addDirs(checkPath(it.dir));
      continue;
    }
    const file = it.file || it;
    const path = it.path || file.webkitRelativePath || file.name;
    const parts = checkPath(path);
    addDirs(parts.slice(0, -1));
    plan.push({ file, path });
  }
  return plan;
}

// upload writes files and directories (see uploadPlan) into directory
// dir of the container, in one tar stream. onProgress(sent, total)
// follows the files' bytes.
export async function upload(target, items, dir, onProgress, signal = null) {
  const plan = uploadPlan(Array.isArray(items) ? items : [items]);
  const total = plan.reduce((n, p) => n + (p.file ? p.file.size : 0), 0);
  const feed = async (s) => {
    let sent = 0;
    onProgress(0, total);
    for (const p of plan) {
      if (!p.file) {
        s.sendStdin(entryBlocks(p.dir, { dir: true, mtime: Date.now() / 1000 }));
        continue;
      }
      const file = p.file;
      s.sendStdin(entryBlocks(p.path, { size: file.size, mtime: file.lastModified / 1000 }));
      for (let off = 0; off < file.size;) {
        const chunk = new Uint8Array(await file.slice(off, off + CHUNK).arrayBuffer());
        await drained(s);
        s.sendStdin(chunk);
        off += chunk.length;
        sent += chunk.length;
        onProgress(sent, total);
      }
      s.sendStdin(new Uint8Array(padding(file.size)));
    }
    s.sendStdin(trailer);
    await drained(s);
  };
  const tops = [...new Set(plan.map((p) => (p.dir ?? p.path).split('/')[0]))];
  const what = tops.length === 1 ? tops[0] : `${tops.length} items`;
  try {
    await runExec(target, ['tar', '-xmf', '-', '-C', dir], { feed, signal });
  } catch (err) {
    throw new Error(`upload of ${what} into ${dir} failed:\n${err.message}`);
  }
}

// download reads the file or directory at path from the container and
// returns {name, data}: a file's bytes, or a directory's tar archive
// (NAME.tar) as tar wrote it. onProgress(received, total) follows the
// archive; total is a file's size once its header arrived, else null.
export async function download(target, path, onProgress, signal = null) {
  const slash = path.replace(/\/+$/, '').lastIndexOf('/');
  const dir = slash > 0 ? path.slice(0, slash) : slash === 0 ? '/' : '.';
  const name = path.replace(/\/+$/, '').slice(slash + 1);
  if (!name) throw new Error('give the path of a file or a directory');
  let received = 0;
  let head = new Uint8Array(0);
  let total = null;
  const onStdout = (b) => {
    received += b.length;
    if (total === null && head.length < 512) {
      head = concat([head, b.subarray(0, 512 - head.length)]);
      total = expectedSize(head);
    }
    onProgress(Math.min(received, total ?? received), total);
  };
  let stdout;
  try {
    ({ stdout } = await runExec(target, ['tar', 'cf', '-', '-C', dir, name], { onStdout, signal }));
  } catch (err) {
    throw new Error(`download of ${path} failed:\n${err.message}`);
  }
  if (firstType(stdout) === 'dir') {
    onProgress(stdout.length, stdout.length);
    return { name: name + '.tar', data: stdout, dir: true };
  }
  const file = firstFile(stdout);
  onProgress(file.data.length, file.data.length);
  return { name: file.name.split('/').pop(), data: file.data };
}

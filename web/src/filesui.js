// filesui.js wires the Files panel: upload (files, a folder, or files and
// folders dropped) and download (a file, or a folder as a .tar) for the
// picked container, one transfer at a time, with a progress bar, speed,
// time left and Cancel.
import { download, upload } from './files.js';

const $ = (id) => document.getElementById(id);

function fmt(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// fmtTime writes seconds as m:ss.
function fmtTime(sec) {
  const t = Math.max(0, Math.round(sec));
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

// wireFiles connects the panel; target() is the picked container or null.
export function wireFiles(target) {
  const bar = $('file-progress');
  const status = $('file-status');
  const cancel = $('file-cancel');
  const buttons = [$('upload'), $('download')];
  let started = 0; // when the transfer in progress started (performance.now)
  let controller = null;

  // rate is the transfer's average speed so far, in bytes a second.
  const rate = (done) => {
    const sec = (performance.now() - started) / 1000;
    return sec > 0 ? done / sec : 0;
  };

  const progress = (verb) => (done, total) => {
    bar.hidden = false;
    if (total) {
      bar.max = total;
      bar.value = done;
    } else {
      bar.removeAttribute('value'); // indeterminate
    }
    const r = rate(done);
    let text = `${verb} ${fmt(done)}${total ? ' of ' + fmt(total) : ''}`;
    if (r > 0 && done > 0) {
      text += ` · ${fmt(r)}/s`;
      if (total && total > done) text += ` · ${fmtTime((total - done) / r)} left`;
    }
    status.textContent = text;
  };

  // summary ends a done transfer's message with its time and speed.
  const summary = (bytes) => {
    const sec = (performance.now() - started) / 1000;
    return ` in ${sec.toFixed(1)} s, ${fmt(rate(bytes))}/s`;
  };

  cancel.addEventListener('click', () => controller && controller.abort());

  const run = async (work) => {
    const t = target();
    if (!t) return;
    buttons.forEach((b) => (b.disabled = true));
    status.dataset.state = 'busy';
    status.classList.remove('error');
    started = performance.now();
    controller = new AbortController();
    cancel.hidden = false;
    try {
      status.textContent = await work(t, controller.signal);
      status.dataset.state = 'done';
    } catch (err) {
      status.textContent = err.message;
      status.dataset.state = 'failed';
      status.classList.add('error');
      bar.hidden = true;
    } finally {
      buttons.forEach((b) => (b.disabled = false));
      cancel.hidden = true;
      controller = null;
    }
  };

  // uploadItems sends what getItems() gives (a FileList or an array of
  // what upload takes) into the directory field's directory.
  const uploadItems = (getItems) => run(async (t, signal) => {
    const list = Array.from((await getItems()) || []);
    if (list.length === 0) throw new Error('choose a file or a folder first');
    const dir = $('upload-dir').value.trim() || '.';
    await upload(t, list, dir, progress('uploaded'), signal);
    const files = list.filter((it) => it.dir === undefined);
    const size = files.reduce((n, it) => n + (it.file || it).size, 0);
    const names = [...new Set(list.map((it) => (it.dir ?? it.path ?? (it.webkitRelativePath || it.name)).split('/')[0]))];
    const folder = list.some((it) => it.dir !== undefined || (it.path || it.webkitRelativePath || '').includes('/'));
    const what = folder ? `${names.join(', ')} (${files.length} file${files.length === 1 ? '' : 's'})`
      : list.length === 1 ? names[0] : `${list.length} files (${names.join(', ')})`;
    return `uploaded ${what} (${fmt(size)}) to ${dir}${summary(size)}`;
  });
  // The Upload button sends what was picked last: files or a folder.
  let picked = $('upload-file');
  for (const [id, other] of [['upload-file', 'upload-folder'], ['upload-folder', 'upload-file']]) {
    $(id).addEventListener('change', () => {
      picked = $(id);
      $(other).value = '';
    });
  }
  $('upload').addEventListener('click', () => uploadItems(() => picked.files));

  // Files and folders dropped on the panel are uploaded at once.
  const zone = $('files');
  zone.addEventListener('dragover', (ev) => {
    if (!ev.dataTransfer || !Array.from(ev.dataTransfer.types).includes('Files')) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'copy';
    zone.classList.add('drop');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('drop'));
  zone.addEventListener('drop', (ev) => {
    zone.classList.remove('drop');
    if (!ev.dataTransfer || ev.dataTransfer.files.length === 0) return;
    ev.preventDefault();
    if (status.dataset.state === 'busy') return;
    // Entries must be taken during the drop event; they are read after.
    const files = ev.dataTransfer.files;
    const entries = Array.from(ev.dataTransfer.items || [], (it) => it.webkitGetAsEntry && it.webkitGetAsEntry()).filter(Boolean);
    if (entries.some((e) => e.isDirectory)) uploadItems(() => walkEntries(entries));
    else uploadItems(() => files);
  });

  $('download').addEventListener('click', () => run(async (t, signal) => {
    const path = $('download-path').value.trim();
    if (!path) throw new Error('give the path of a file or a folder');
    const { name, data, dir } = await download(t, path, progress('downloaded'), signal);
    const url = URL.createObjectURL(new Blob([data], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return `downloaded ${dir ? 'the folder as ' : ''}${name} (${fmt(data.length)})${summary(data.length)}`;
  }));
}

// walkEntries reads dropped FileSystemEntry trees into upload items:
// {file, path} for each file, {dir: path} for each directory (so empty
// ones are created too), at most maxEntries.
const maxEntries = 100000;
export async function walkEntries(entries) {
  const out = [];
  const walk = async (e) => {
    if (out.length >= maxEntries) throw new Error(`more than ${maxEntries} files and folders dropped`);
    const path = e.fullPath.replace(/^\/+/, '');
    if (e.isFile) {
      out.push({ file: await new Promise((res, rej) => e.file(res, rej)), path });
      return;
    }
    out.push({ dir: path });
    const reader = e.createReader();
    for (;;) {
      const batch = await new Promise((res, rej) => reader.readEntries(res, rej)); // in batches until empty
      if (batch.length === 0) break;
      for (const c of batch) await walk(c);
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

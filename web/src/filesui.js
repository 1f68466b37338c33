// filesui.js wires the Files panel: upload and download for the picked
// container, one transfer at a time, with a progress bar.
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

  // uploadFiles sends files (a FileList or an array) into the directory
  // field's directory.
  const uploadFiles = (files) => run(async (t, signal) => {
    const list = Array.from(files || []);
    if (list.length === 0) throw new Error('choose a file first');
    const dir = $('upload-dir').value.trim() || '.';
    await upload(t, list, dir, progress('uploaded'), signal);
    const size = list.reduce((n, f) => n + f.size, 0);
    const what = list.length === 1 ? list[0].name : `${list.length} files (${list.map((f) => f.name).join(', ')})`;
    return `uploaded ${what} (${fmt(size)}) to ${dir}${summary(size)}`;
  });
  $('upload').addEventListener('click', () => uploadFiles($('upload-file').files));

  // Files dropped on the panel are uploaded at once; a dropped directory
  // is refused (only files travel so far).
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
    const items = Array.from(ev.dataTransfer.items || []);
    if (items.some((it) => it.webkitGetAsEntry && it.webkitGetAsEntry()?.isDirectory)) {
      status.textContent = 'directories cannot be uploaded yet: drop files';
      status.dataset.state = 'failed';
      status.classList.add('error');
      return;
    }
    if (status.dataset.state === 'busy') return;
    uploadFiles(ev.dataTransfer.files);
  });

  $('download').addEventListener('click', () => run(async (t, signal) => {
    const path = $('download-path').value.trim();
    if (!path) throw new Error('give the path of a file');
    const { name, data } = await download(t, path, progress('downloaded'), signal);
    const url = URL.createObjectURL(new Blob([data], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return `downloaded ${name} (${fmt(data.length)})${summary(data.length)}`;
  }));
}

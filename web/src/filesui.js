// filesui.js wires the Files panel: upload and download for the picked
// container, one transfer at a time, with a progress bar.
import { download, upload } from './files.js';

const $ = (id) => document.getElementById(id);

function fmt(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// wireFiles connects the panel; target() is the picked container or null.
export function wireFiles(target) {
  const bar = $('file-progress');
  const status = $('file-status');
  const buttons = [$('upload'), $('download')];

  const progress = (verb) => (done, total) => {
    bar.hidden = false;
    if (total) {
      bar.max = total;
      bar.value = done;
    } else {
      bar.removeAttribute('value'); // indeterminate
    }
    status.textContent = `${verb} ${fmt(done)}${total ? ' of ' + fmt(total) : ''}`;
  };

  const run = async (work) => {
    const t = target();
    if (!t) return;
    buttons.forEach((b) => (b.disabled = true));
    status.dataset.state = 'busy';
    status.classList.remove('error');
    try {
      status.textContent = await work(t);
      status.dataset.state = 'done';
    } catch (err) {
      status.textContent = err.message;
      status.dataset.state = 'failed';
      status.classList.add('error');
      bar.hidden = true;
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  };

  $('upload').addEventListener('click', () => run(async (t) => {
    const file = $('upload-file').files[0];
    if (!file) throw new Error('choose a file first');
    const dir = $('upload-dir').value.trim() || '.';
    await upload(t, file, dir, progress('uploaded'));
    return `uploaded ${file.name} (${fmt(file.size)}) to ${dir}`;
  }));

  $('download').addEventListener('click', () => run(async (t) => {
    const path = $('download-path').value.trim();
    if (!path) throw new Error('give the path of a file');
    const { name, data } = await download(t, path, progress('downloaded'));
    const url = URL.createObjectURL(new Blob([data], { type: 'application/octet-stream' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    return `downloaded ${name} (${fmt(data.length)})`;
  }));
}

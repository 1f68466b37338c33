// Drives the official Kubernetes JavaScript client (@kubernetes/client-node)
// through attach, a tty exec with a resize, and port-forward.
//
// usage: node stream.js KUBECONFIG NAMESPACE POD CONTAINER MODE [ARG...]
//   attach LINE        attach to POD (cat), write LINE, read it back
//   tty                exec sh with a tty sized 100x40 (the client sends the
//                      size of a stdout that has rows and columns), run
//                      stty size, exit 5
//   portforward N PORT forward PORT, send N bytes, hash what comes back
// prints one JSON line with what it saw.
'use strict';
const crypto = require('crypto');
const k8s = require('@kubernetes/client-node');
const { Readable, Writable } = require('stream');

const [kubeconfig, namespace, pod, container, mode, ...rest] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);

const done = (result, code = 0) => {
  console.log(JSON.stringify(result));
  process.exit(code);
};
setTimeout(() => done({ error: 'timed out' }, 2), 60000);
const fail = (err) => done({ error: String((err && err.message) || err) }, 1);

const collect = (onData) => {
  const chunks = [];
  const w = new Writable({
    write(chunk, _enc, cb) { chunks.push(chunk); if (onData) onData(); cb(); },
  });
  w.text = () => Buffer.concat(chunks).toString();
  return w;
};

if (mode === 'attach') {
  const line = rest[0];
  const stdin = new Readable({ read() {} });
  const stdout = collect(() => {
    if (stdout.text().includes(line)) done({ stdout: stdout.text() });
  });
  new k8s.Attach(kc).attach(namespace, pod, container, stdout, null, stdin, false)
    .then(() => stdin.push(line + '\n'))
    .catch(fail);
} else if (mode === 'tty') {
  const stdin = new Readable({ read() {} });
  let asking = null;
  const stdout = collect(() => {
    if (asking && stdout.text().includes('40 100')) {
      clearInterval(asking);
      asking = null;
      stdin.push('exit 5\n');
    }
  });
  stdout.rows = 40;
  stdout.columns = 100;
  new k8s.Exec(kc).exec(namespace, pod, container, ['sh'], stdout, null, stdin, true,
    (status) => setImmediate(() => done({ stdout: stdout.text(), status })))
    .then(() => {
      // The resize and the shell run concurrently, on the real kubelet
      // too: ask until the new size shows.
      asking = setInterval(() => stdin.push('stty size\n'), 200);
      stdin.push('stty size\n');
    })
    .catch(fail);
} else if (mode === 'portforward') {
  const n = Number(rest[0]);
  const port = Number(rest[1]);
  const pattern = Buffer.from('0123456789abcdef');
  const data = Buffer.alloc(n, pattern);
  const hash = crypto.createHash('sha256');
  let got = 0;
  const errOut = collect();
  const output = new Writable({
    write(chunk, _enc, cb) {
      hash.update(chunk);
      got += chunk.length;
      if (got >= n) done({ bytes: got, sha256: hash.digest('hex'), error: errOut.text() });
      cb();
    },
  });
  const input = new Readable({ read() {} });
  new k8s.PortForward(kc).portForward(namespace, pod, [port], output, errOut, input)
    .then(() => { input.push(data); })
    .catch(fail);
} else {
  fail('unknown mode ' + mode);
}

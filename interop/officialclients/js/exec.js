// Drives the official Kubernetes JavaScript client (@kubernetes/client-node)
// against a server: one exec whose stdin is a single chunk of SIZE bytes
// (the client sends each chunk as one WebSocket message), hashed by the
// pod, with an exit code.
//
// usage: node exec.js KUBECONFIG NAMESPACE POD CONTAINER SIZE
// prints one JSON line: {"stdout": ..., "stderr": ..., "status": ...}
'use strict';
const k8s = require('@kubernetes/client-node');
const { Readable, Writable } = require('stream');

const [kubeconfig, namespace, pod, container, sizeArg] = process.argv.slice(2);
const size = Number(sizeArg);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);

const collect = () => {
  const chunks = [];
  const w = new Writable({ write(chunk, _enc, cb) { chunks.push(chunk); cb(); } });
  w.text = () => Buffer.concat(chunks).toString();
  return w;
};
const stdout = collect();
const stderr = collect();
const stdin = new Readable({ read() {} });
stdin.push(Buffer.alloc(size, '0123456789abcdef'));

const timer = setTimeout(() => { console.log(JSON.stringify({ error: 'timed out' })); process.exit(2); }, 120000);
new k8s.Exec(kc).exec(namespace, pod, container,
  ['sh', '-c', `head -c ${size} | sha256sum; echo done >&2; exit 3`],
  stdout, stderr, stdin, false,
  (status) => {
    // The status arrives on the error channel; give the output streams a
    // moment to drain their last chunks before reading them.
    setImmediate(() => {
      clearTimeout(timer);
      console.log(JSON.stringify({ stdout: stdout.text(), stderr: stderr.text(), status }));
      process.exit(0);
    });
  }).catch((err) => {
    clearTimeout(timer);
    console.log(JSON.stringify({ error: String(err && err.message || err) }));
    process.exit(1);
  });

// Drives the official Kubernetes JavaScript client (@kubernetes/client-node)
// through the API calls around a session, the way its users write them: the
// version, a pod created without kind or apiVersion, a watch with bookmarks
// until it runs, its log followed, a deployment's status, config maps
// listed in pages, a config map server-side applied (a field dropped, a conflict with another manager,
// forced), a Secret written with stringData and read back, the pod deleted.
//
// usage: node api.js KUBECONFIG NAMESPACE NAME
// prints one JSON line with what it saw.
'use strict';
const k8s = require('@kubernetes/client-node');
const { PassThrough } = require('stream');

const [kubeconfig, namespace, name] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const out = {};
const done = (code) => {
  console.log(JSON.stringify(out));
  process.exit(code);
};
setTimeout(() => { out.error = 'timed out'; done(2); }, 60000);

(async () => {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  out.version = (await kc.makeApiClient(k8s.VersionApi).getCode()).gitVersion;
  const pod = await core.createNamespacedPod({ namespace, body: { metadata: { name, labels: { api: name } },
    spec: { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.1; done; exec sleep 3600'] }] } } });
  out.created = pod.kind;
  out.watched = [];
  await new Promise((resolve, reject) => {
    let req;
    let running = false;
    new k8s.Watch(kc).watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: `api=${name}`, allowWatchBookmarks: true },
      (type, obj) => {
        out.watched.push(`${type} ${(obj.status && obj.status.phase) || ''}`);
        if (obj.status && obj.status.phase === 'Running') {
          running = true;
          if (req) req.abort();
          resolve();
        }
      },
      (err) => { if (!running) reject(err || new Error('the watch ended')); })
      .then((r) => { req = r; if (running) r.abort(); }, reject);
  });
  let log = '';
  await new Promise((resolve, reject) => {
    const w = new PassThrough();
    w.on('data', (d) => { log += d; if (log.split('\n').length > 3) resolve(); });
    new k8s.Log(kc).log(namespace, name, 'c', w, { follow: true }).catch(reject);
  });
  out.log = log;
  await apps.createNamespacedDeployment({ namespace, body: { metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: { 'api-deploy': name } },
      template: { metadata: { labels: { 'api-deploy': name } }, spec: { containers: [{ name: 'c', image: 'busybox', command: ['sleep', '3600'] }] } } } } });
  out.deployment_status = (await apps.readNamespacedDeploymentStatus({ name, namespace })).kind;
  await apps.deleteNamespacedDeployment({ name, namespace });
  // A list in pages of two, as the client's users page (limit, _continue).
  for (const n of ['a', 'b', 'c']) {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: `${name}-${n}`, labels: { api: name } } } });
  }
  out.paged = [];
  let token;
  do {
    const page = await core.listNamespacedConfigMap({ namespace, labelSelector: `api=${name}`, limit: 2, _continue: token });
    out.paged.push(page.items.map((c) => c.metadata.name.slice(name.length + 1)).join(','));
    token = page.metadata._continue;
  } while (token && out.paged.length < 5);
  await core.deleteCollectionNamespacedConfigMap({ namespace, labelSelector: `api=${name}` });
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-ssa`, namespace }, data: { a: '1', b: '2' } };
  const sorted = (data) => JSON.stringify(Object.fromEntries(Object.entries(data).sort()));
  out.applied = [];
  for (const data of [{ a: '1', b: '2' }, { a: '1' }]) {
    cm.data = data;
    const r = await objects.patch(cm, undefined, undefined, 'js-api', undefined, k8s.PatchStrategy.ServerSideApply);
    out.applied.push(sorted(r.data));
  }
  await objects.patch({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${name}-ssa`, namespace }, data: { a: '9' } },
    undefined, undefined, 'other', undefined, k8s.PatchStrategy.MergePatch);
  try {
    await objects.patch(cm, undefined, undefined, 'js-api', undefined, k8s.PatchStrategy.ServerSideApply);
    out.applied.push('no conflict');
  } catch (e) {
    out.applied.push(`${e.code} ${JSON.parse(e.body).message}`);
  }
  out.applied.push(sorted((await objects.patch(cm, undefined, undefined, 'js-api', true, k8s.PatchStrategy.ServerSideApply)).data));
  await core.deleteNamespacedConfigMap({ name: `${name}-ssa`, namespace });
  // A Secret written with stringData and read back as data.
  await core.createNamespacedSecret({ namespace, body: { metadata: { name }, type: 'kubernetes.io/basic-auth', stringData: { password: 's3cr3t' } } });
  const secret = await core.readNamespacedSecret({ name, namespace });
  out.secret = `${secret.type} ${Buffer.from(secret.data.password, 'base64').toString()} ${secret.stringData === undefined ? 'None' : JSON.stringify(secret.stringData)}`;
  await core.deleteNamespacedSecret({ name, namespace });
  out.deleted = (await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 })).metadata.name;
  done(0);
})().catch((e) => {
  out.error = `${e.code || ''} ${e.message || e} ${e.body ? JSON.stringify(e.body) : ''}`;
  done(1);
});

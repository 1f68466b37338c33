// api.js reads the Kubernetes API of the server that served the page.
import { authHeaders } from './auth.js';

// APIError is a failed API call: the HTTP status and the Status message.
export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
  // unauthorized: the server wants a (different) token. A 403 is not
  // this: the user is known but may not do that one thing.
  get unauthorized() {
    return this.status === 401;
  }
}

// get fetches path (same origin) as JSON, authenticated when signed in.
export async function get(path) {
  let resp;
  try {
    resp = await fetch(path, {
      headers: { Accept: 'application/json', ...authHeaders() },
      cache: 'no-store',
      // The sign-in's session cookie (HttpOnly) goes along; a token, when
      // the user pasted one, is sent instead of it.
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new APIError(0, 'server unreachable: ' + err.message);
  }
  const text = await resp.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: report the text below.
  }
  if (!resp.ok) {
    const msg = body && body.message ? body.message : text.trim() || resp.statusText;
    throw new APIError(resp.status, `${resp.status}: ${msg}`);
  }
  if (body === null) throw new APIError(resp.status, 'answer is not JSON');
  return body;
}

export async function namespaces() {
  const list = await get('/api/v1/namespaces');
  return (list.items || []).map((ns) => ns.metadata.name);
}

// pods lists the pods of ns with, per container, whether it has a tty and
// a one-word state.
export async function pods(ns) {
  const list = await get(`/api/v1/namespaces/${encodeURIComponent(ns)}/pods`);
  return (list.items || []).map(podView);
}

// defaultContainer is the container kubectl picks when none is named: the
// kubectl.kubernetes.io/default-container annotation's, else the first.
function defaultContainer(p) {
  const names = (p.spec.containers || []).map((c) => c.name);
  const a = ((p.metadata && p.metadata.annotations) || {})['kubectl.kubernetes.io/default-container'];
  return names.includes(a) ? a : names[0];
}

// podView is what the list shows of a pod: its containers, then its
// ephemeral ones (kubectl debug's), which one attaches to like the others.
function podView(p) {
  const st = p.status || {};
  const statuses = new Map([...(st.containerStatuses || []), ...(st.ephemeralContainerStatuses || [])].map((s) => [s.name, s]));
  const def = defaultContainer(p);
  const view = (c, ephemeral) => ({
    name: c.name,
    isDefault: !ephemeral && c.name === def,
    ephemeral,
    tty: !!c.tty,
    stdin: !!c.stdin,
    state: containerState(statuses.get(c.name)),
    ready: !!(statuses.get(c.name) || {}).ready,
  });
  return {
    namespace: p.metadata.namespace,
    name: p.metadata.name,
    phase: st.phase || 'Unknown',
    containers: [...(p.spec.containers || []).map((c) => view(c, false)), ...(p.spec.ephemeralContainers || []).map((c) => view(c, true))],
  };
}

function containerState(s) {
  if (!s || !s.state) return 'unknown';
  if (s.state.running) return 'running';
  if (s.state.waiting) return 'waiting' + (s.state.waiting.reason ? ': ' + s.state.waiting.reason : '');
  if (s.state.terminated) return `terminated (exit ${s.state.terminated.exitCode})`;
  return 'unknown';
}

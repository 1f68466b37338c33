// diagnose.js words why a session failed. A browser reports a refused
// WebSocket only as close 1006, so the page asks the API about the pod with
// the same credentials, then asks for the session's own address without an
// upgrade, which the server authorizes exactly as the session: a refusal
// comes back with its Status (the permission a 403 names).
import { get } from './api.js';
import { getToken } from './auth.js';
import { sessionURL } from './session.js';

// signInWords is what a 401 means to the user: with a token, that it is
// no longer accepted; without one, that the server wants one.
export function signInWords(hasToken) {
  return hasToken ? 'the server no longer accepts your token: sign in again' : 'the server wants you to sign in';
}

// containerWords says why container of pod (an API Pod object) cannot
// run a session, or returns '' when it is running.
export function containerWords(pod, container) {
  const spec = [...((pod.spec && pod.spec.containers) || []), ...((pod.spec && pod.spec.ephemeralContainers) || [])]
    .some((c) => c.name === container);
  const status = pod.status || {};
  const st = [...(status.containerStatuses || []), ...(status.ephemeralContainerStatuses || [])].find((c) => c.name === container);
  const name = `${pod.metadata.namespace}/${pod.metadata.name}`;
  if (!spec && !st) return `pod ${name} has no container ${container}`;
  if (!st || !st.state) return `container ${container} has not started (pod ${name} is ${(pod.status && pod.status.phase) || 'pending'})`;
  if (st.state.running) return '';
  if (st.state.terminated) {
    const t = st.state.terminated;
    return `container ${container} has stopped (${t.reason || 'terminated'}, exit code ${t.exitCode})`;
  }
  if (st.state.waiting) return `container ${container} is not running (waiting: ${st.state.waiting.reason || 'unknown'})`;
  return `container ${container} is not running`;
}

// closeWords words a WebSocket close the server or the network caused.
export function closeWords(code, reason) {
  switch (code) {
    case 1001:
      return 'the server is shutting down' + (reason ? ` (${reason})` : '');
    case 1006:
      return 'the network or the server went away';
    case 1008:
      return reason || 'a limit of the server ended it';
    case 1009:
      return 'a message was too large' + (reason ? `: ${reason}` : '');
    case 1011:
      return 'the server failed' + (reason ? `: ${reason}` : '');
    default:
      return reason || `close code ${code}`;
  }
}

// explainRefusal words why the session of target (see sessionURL) was
// refused: the pod or container missing or stopped, the token refused,
// the permission the server names, or the server's own answer.
export async function explainRefusal(target) {
  const { namespace, pod, container } = target;
  let p;
  try {
    p = await get(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}`);
  } catch (err) {
    if (err.unauthorized) return signInWords(!!getToken());
    if (err.status === 404) return `pod ${namespace}/${pod} not found`;
    if (err.status === 0) return err.message;
    p = null; // may not read the pod: the session's own answer says more
  }
  if (p) {
    const why = containerWords(p, container);
    if (why) return why;
  }
  const u = new URL(sessionURL(target));
  u.protocol = location.protocol;
  try {
    await get(u.pathname + u.search);
  } catch (err) {
    if (err.status === 403) return 'not allowed: ' + err.message.replace(/^403: /, '');
    if (err.unauthorized) return signInWords(!!getToken());
    if (err.status === 404) return `not found: ${err.message.replace(/^404: /, '')}`;
    if (err.status !== 400) return err.message;
  }
  return 'the server refused the session (is this page served by the server it talks to?)';
}

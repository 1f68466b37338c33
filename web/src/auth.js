// auth.js keeps the bearer token and says how to present it. The token
// lives in sessionStorage (this tab only, gone when it closes) and is never
// put in a URL: fetches send it as an Authorization header, WebSockets (whose
// browser API cannot set headers) as the subprotocol
// base64url.bearer.authorization.k8s.io.<unpadded base64url of the token>,
// the form the Kubernetes API server accepts.

const key = 'porthole.token';
const bearerPrefix = 'base64url.bearer.authorization.k8s.io.';

export function getToken() {
  return sessionStorage.getItem(key) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(key, token);
  else sessionStorage.removeItem(key);
}

// authHeaders returns the headers that authenticate a fetch, if any.
export function authHeaders() {
  const t = getToken();
  return t ? { Authorization: 'Bearer ' + t } : {};
}

// bearerProtocol encodes token as a WebSocket subprotocol.
export function bearerProtocol(token) {
  const bytes = new TextEncoder().encode(token);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return bearerPrefix + btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

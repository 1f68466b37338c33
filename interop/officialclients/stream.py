"""Drives the official Kubernetes Python client (Debian's python3-kubernetes)
through attach, a tty exec with a resize, and port-forward.

usage: stream.py KUBECONFIG NAMESPACE POD MODE [ARG]
  attach LINE     attach to POD (cat), write LINE, read it back
  tty             exec sh with a tty, resize to 100x40, run stty size, exit 5
  portforward N PORT
                  forward PORT, send N bytes, read back what the echo
                  server returns, and hash it
prints one JSON line with what it saw.
"""
import hashlib
import json
import select
import socket
import ssl
import sys
import time

from kubernetes import client, config
from kubernetes.stream import portforward, stream
from kubernetes.stream import ws_client


class _PendingAwareSelect:
    """The port-forward proxy thread select()s on the WebSocket's socket,
    which over TLS can hold decrypted bytes select() cannot see, so the
    last frames of a forward wait forever (kubernetes-client/python#2414,
    open; any API server over TLS shows it). This select() reports such a
    socket readable, the fix the issue proposes, so the test measures the
    server and not that bug. Everything else is the real select module."""

    def __getattr__(self, name):
        return getattr(select, name)

    @staticmethod
    def select(r, w, x, *timeout):
        pending = [s for s in r if isinstance(getattr(s, "sock", None), ssl.SSLSocket) and s.sock.pending()]
        if not pending:
            return select.select(r, w, x, *timeout)
        rr, ww, xx = select.select(r, w, x, 0)
        return pending + [s for s in rr if s not in pending], ww, xx


ws_client.select = _PendingAwareSelect()

kubeconfig, namespace, pod, mode = sys.argv[1:5]
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()
deadline = time.monotonic() + 60


def attach(line):
    resp = stream(api.connect_get_namespaced_pod_attach, pod, namespace,
                  stdin=True, stdout=True, stderr=False, tty=False, _preload_content=False)
    resp.write_stdin(line + "\n")
    out = ""
    while resp.is_open() and line not in out and time.monotonic() < deadline:
        resp.update(timeout=1)
        if resp.peek_stdout():
            out += resp.read_stdout()
    resp.close()
    return {"stdout": out}


def tty():
    resp = stream(api.connect_get_namespaced_pod_exec, pod, namespace, command=["sh"],
                  stdin=True, stdout=True, stderr=False, tty=True, _preload_content=False)
    resp.write_channel(4, json.dumps({"Width": 100, "Height": 40}))
    out = ""
    # The resize and the shell run concurrently, on the real kubelet too:
    # ask until the new size shows, then exit.
    while resp.is_open() and "40 100" not in out and time.monotonic() < deadline:
        resp.write_stdin("stty size\n")
        resp.update(timeout=0.2)
        if resp.peek_stdout():
            out += resp.read_stdout()
    resp.write_stdin("exit 5\n")
    while resp.is_open() and time.monotonic() < deadline:
        resp.update(timeout=1)
        if resp.peek_stdout():
            out += resp.read_stdout()
    resp.close()
    return {"stdout": out, "returncode": resp.returncode}


def forward(n, port):
    pf = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    sock = pf.socket(port)
    sock.setblocking(True)
    sock.settimeout(20)
    pattern = b"0123456789abcdef"
    data = (pattern * (n // len(pattern) + 1))[:n]
    sock.sendall(data)
    h, got = hashlib.sha256(), 0
    err = None
    while got < n:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            err = "timed out after %d bytes back" % got
            break
        if not chunk:
            break
        h.update(chunk)
        got += len(chunk)
    sock.close()
    err = err or pf.error(port)
    pf.close()
    return {"bytes": got, "sha256": h.hexdigest(), "error": err}


if mode == "attach":
    result = attach(sys.argv[5])
elif mode == "tty":
    result = tty()
elif mode == "portforward":
    result = forward(int(sys.argv[5]), int(sys.argv[6]))
else:
    sys.exit("unknown mode " + mode)
print(json.dumps(result))

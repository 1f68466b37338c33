"""Drives the official Kubernetes Python client (Debian's python3-kubernetes)
against a server: one exec whose stdin is written as a single message of
SIZE bytes, read back as a SHA-256 by the pod, with an exit code.

usage: exec.py KUBECONFIG NAMESPACE POD SIZE
prints one JSON line: {"stdout": ..., "stderr": ..., "returncode": ...}
"""
import json
import sys

from kubernetes import client, config
from kubernetes.stream import stream

kubeconfig, namespace, pod, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
config.load_kube_config(config_file=kubeconfig)
api = client.CoreV1Api()
resp = stream(
    api.connect_get_namespaced_pod_exec, pod, namespace,
    command=["sh", "-c", "head -c %d | sha256sum; echo done >&2; exit 3" % size],
    stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
pattern = "0123456789abcdef"
resp.write_stdin(pattern * (size // len(pattern)) + pattern[: size % len(pattern)])
out, err = "", ""
while resp.is_open():
    resp.update(timeout=1)
    if resp.peek_stdout():
        out += resp.read_stdout()
    if resp.peek_stderr():
        err += resp.read_stderr()
resp.close()
print(json.dumps({"stdout": out, "stderr": err, "returncode": resp.returncode}))

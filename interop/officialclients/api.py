"""Drives the official Kubernetes Python client (Debian's python3-kubernetes)
through the API calls around a session, the way its users write them:
discovery (its paths end in a slash), a pod created from the client's models
(no kind, no apiVersion), a watch until it runs (watch=True), its log
followed (follow=True), a deployment's status and scale, config maps
listed in pages and deleted as a collection, a config map server-side applied by the dynamic
client (a field dropped, a conflict with another manager, forced), a
Secret written with stringData and read back, the pod deleted.

usage: api.py KUBECONFIG NAMESPACE NAME
prints one JSON line with what it saw.
"""
import base64
import json
import os
import shutil
import sys
import tempfile

from kubernetes import client, config, dynamic, watch

kubeconfig, namespace, name = sys.argv[1:4]
out = {}
try:
    config.load_kube_config(kubeconfig)
    v1, apps = client.CoreV1Api(), client.AppsV1Api()
    out["version"] = client.VersionApi().get_code().git_version
    out["core"] = client.CoreApi().get_api_versions().versions
    out["groups"] = [g.name for g in client.ApisApi().get_api_versions().groups]
    out["resources"] = [r.name for r in v1.get_api_resources().resources]
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"api": name}),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="c", image="busybox",
            command=["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.1; done; exec sleep 3600"])]))
    out["created"] = v1.create_namespaced_pod(namespace, pod).kind
    phases = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, namespace, label_selector="api=" + name, timeout_seconds=60):
        phases.append(ev["type"] + " " + (ev["object"].status.phase or ""))
        if ev["object"].status.phase == "Running":
            w.stop()
    out["watched"] = phases
    r = v1.read_namespaced_pod_log(name, namespace, follow=True, _preload_content=False)
    log = b""
    for chunk in r.stream(64):
        log += chunk
        if log.count(b"\n") >= 3:
            break
    r.release_conn()
    out["log"] = log.decode()
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"api-deploy": name}},
                    "template": {"metadata": {"labels": {"api-deploy": name}},
                                 "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}}}
    apps.create_namespaced_deployment(namespace, dep)
    out["scaled"] = apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 2}}).spec.replicas
    out["deployment_status"] = apps.read_namespaced_deployment_status(name, namespace).kind
    apps.delete_namespaced_deployment(name, namespace)
    v1.create_namespaced_config_map(namespace, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels={"api": name}), data={"k": "v"}))
    # A list in pages of two, as the client's users page (limit, _continue).
    for n in ("b", "c"):
        v1.create_namespaced_config_map(namespace, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name + "-" + n, labels={"api": name})))
    pages, token = [], None
    while True:
        page = v1.list_namespaced_config_map(namespace, label_selector="api=" + name, limit=2, _continue=token)
        pages.append(",".join(cm.metadata.name[len(name):] or "=" for cm in page.items))
        token = page.metadata._continue
        if not token or len(pages) > 5:
            break
    out["paged"] = pages
    out["collected"] = v1.delete_collection_namespaced_config_map(namespace, label_selector="api=" + name).kind
    out["left"] = len(v1.list_namespaced_config_map(namespace, label_selector="api=" + name).items)
    # The dynamic client's discovery cache goes to a directory of ours.
    cache = tempfile.mkdtemp()
    try:
        dyn = dynamic.DynamicClient(client.ApiClient(), cache_file=os.path.join(cache, "discovery.json"))
        cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name + "-ssa"}, "data": {"a": "1", "b": "2"}}
        applied = []

        # The body goes as text: this client's REST layer encodes a dict
        # only for content types that say json, which apply's does not.
        def apply(**kwargs):
            return dyn.server_side_apply(cms, body=json.dumps(body), name=name + "-ssa", namespace=namespace,
                                         field_manager="python-api", **kwargs)
        for data in ({"a": "1", "b": "2"}, {"a": "1"}):
            body["data"] = data
            applied.append(json.dumps(apply().to_dict()["data"], sort_keys=True, separators=(",", ":")))
        v1.patch_namespaced_config_map(name + "-ssa", namespace, {"data": {"a": "9"}}, field_manager="other")
        try:
            apply()
            applied.append("no conflict")
        except dynamic.exceptions.ConflictError as e:
            applied.append("%s %s" % (e.status, json.loads(e.body)["message"]))
        applied.append(json.dumps(apply(force_conflicts=True).to_dict()["data"], sort_keys=True, separators=(",", ":")))
        out["applied"] = applied
        v1.delete_namespaced_config_map(name + "-ssa", namespace)
    finally:
        shutil.rmtree(cache)
    # A Secret of the client's model, its stringData read back as data.
    v1.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name=name), string_data={"password": "s3cr3t"}, type="kubernetes.io/basic-auth"))
    s = v1.read_namespaced_secret(name, namespace)
    out["secret"] = "%s %s %s" % (s.type, base64.b64decode(s.data["password"]).decode(), s.string_data)
    v1.delete_namespaced_secret(name, namespace)
    out["deleted"] = v1.delete_namespaced_pod(name, namespace, grace_period_seconds=0).metadata.name
except client.ApiException as e:
    out["error"] = "%s %s: %s" % (e.status, e.reason, e.body)
except Exception as e:  # the test reports it
    out["error"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(out))

package kube

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/golden"
)

var decodeOK = []struct {
	name, in string
}{
	{"pod-yaml", `
apiVersion: v1
kind: Pod
metadata:
  name: demo
  labels: {app: demo}
spec:
  containers:
  - name: shell
    command: [sh]
    stdin: true
    env: [{name: A, value: "1"}]
    ports: [{containerPort: 8080, protocol: TCP}]
    resources: {limits: {cpu: 1}}   # not modelled: ignored
`},
	{"pod-json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"apps"},"spec":{"containers":[{"name":"c","command":["sleep","1"]}]}}`},
	{"multi-doc", `
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c}]}
---
# only a comment
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: other}
spec: {containers: [{name: c}], initContainers: [{name: i}]}
`},
	{"list", `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: c}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: a, namespace: two}
  spec: {containers: [{name: c}]}
`},
	{"podlist", `{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]}}]}`},
	{"timestamp", `
apiVersion: v1
kind: Pod
metadata: {name: t, creationTimestamp: 2024-05-01T10:00:00Z}
spec: {containers: [{name: c}]}
`},
	{"empty", "\n---\n---\n"},
}

func TestDecodePods(t *testing.T) {
	for _, tc := range decodeOK {
		t.Run(tc.name, func(t *testing.T) {
			pods, err := DecodePods(strings.NewReader(tc.in), "in.yaml")
			if err != nil {
				t.Fatalf("DecodePods: %v", err)
			}
			got, err := json.MarshalIndent(pods, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, "decode/"+tc.name+".json", append(got, '\n'))
		})
	}
}

var decodeBad = []struct {
	name, in, want string
}{
	{"not-yaml", "a: [", `x.yaml: document 1: invalid YAML: yaml: line 1: did not find expected node content`},
	{"scalar", "hello", `x.yaml: document 1: not an object`},
	{"no-kind", "apiVersion: v1\nmetadata: {name: a}", `x.yaml: document 1: kind: required`},
	{"no-apiversion", "kind: Pod", `x.yaml: document 1: apiVersion: required`},
	{"statefulset", "apiVersion: apps/v1\nkind: StatefulSet", `x.yaml: document 1: kind: unsupported kind "StatefulSet": only ` + supportedKinds + ` are supported`},
	{"deployment-v1", "apiVersion: v1\nkind: Deployment", `x.yaml: document 1: apiVersion: no matches for kind "Deployment" in version "v1" (want "apps/v1")`},
	{"deployment-no-name", "apiVersion: apps/v1\nkind: Deployment", `x.yaml: document 1: metadata.name: required`},
	{"deployment-no-selector", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {template: {spec: {containers: [{name: c}]}}}",
		`x.yaml: document 1: spec.selector: Required value`},
	{"deployment-empty-selector", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {}, template: {spec: {containers: [{name: c}]}}}",
		`x.yaml: document 1: spec.selector: Invalid value: empty selector is invalid for deployment`},
	{"deployment-mismatch", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: api}}, spec: {containers: [{name: c}]}}}",
		"x.yaml: document 1: spec.template.metadata.labels: Invalid value: map[app:api]: `selector` does not match template `labels`"},
	{"deployment-bad-operator", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchExpressions: [{key: app, operator: Is, values: [web]}]}, template: {spec: {containers: [{name: c}]}}}",
		`x.yaml: document 1: spec.selector.matchExpressions: "Is" is not a valid label selector operator`},
	{"deployment-exists-values", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchExpressions: [{key: app, operator: Exists, values: [web]}]}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}",
		`x.yaml: document 1: spec.selector.matchExpressions[0].values: operator Exists needs no values`},
	{"deployment-replicas", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1000, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}",
		`x.yaml: document 1: spec.replicas: invalid value 1000: must be between 0 and 64`},
	{"deployment-restart-never", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {restartPolicy: Never, containers: [{name: c}]}}}",
		`x.yaml: document 1: spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`},
	{"deployment-bad-container", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: C}]}}}",
		`x.yaml: document 1: spec.template.spec.containers[0].name: invalid value "C": ` + labelMsg},
	{"replicaset-v1beta", "apiVersion: extensions/v1beta1\nkind: ReplicaSet", `x.yaml: document 1: apiVersion: no matches for kind "ReplicaSet" in version "extensions/v1beta1" (want "apps/v1")`},
	{"service-no-name", "apiVersion: v1\nkind: Service", `x.yaml: document 1: metadata.name: required`},
	{"service-bad-name", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}",
		`x.yaml: document 1: metadata.name: invalid value "1web": must be a DNS-1035 label: start with a lower case letter`},
	{"service-no-ports", "apiVersion: v1\nkind: Service\nmetadata: {name: web}", `x.yaml: document 1: spec.ports: Required value`},
	{"service-port-names", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}, {port: 81, name: b}]}",
		`x.yaml: document 1: spec.ports[0].name: Required value`},
	{"service-dup-names", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, name: a}, {port: 81, name: a}]}",
		`x.yaml: document 1: spec.ports[1].name: Duplicate value: "a"`},
	{"service-bad-port", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 70000}]}",
		`x.yaml: document 1: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive`},
	{"service-bad-target-name", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: Http}]}",
		`x.yaml: document 1: spec.ports[0].targetPort: invalid value "Http": must be an IANA service name: at most 15 lower case letters, digits or '-', with at least one letter`},
	{"service-target-float", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, targetPort: 1.5}]}",
		`x.yaml: document 1: spec.ports.targetPort: cannot use a JSON number 1.5 as kube.IntOrString`},
	{"service-nodeport", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: NodePort, ports: [{port: 80}]}",
		`x.yaml: document 1: spec.type: unsupported value "NodePort": porthole serves ClusterIP Services only`},
	{"service-bad-ip", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: nope, ports: [{port: 80}]}",
		`x.yaml: document 1: spec.clusterIP: invalid value "nope": must be empty, 'None', or a valid IP address`},
	{"probe-two-handlers", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, readinessProbe: {exec: {command: [cat]}, tcpSocket: {port: 80}}}]}",
		`x.yaml: document 1: spec.containers[0].readinessProbe: must specify exactly one of exec, httpGet or tcpSocket`},
	{"probe-bad-port", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, readinessProbe: {httpGet: {port: 0}}}]}",
		`x.yaml: document 1: spec.containers[0].readinessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive`},
	{"probe-negative", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, readinessProbe: {exec: {command: [cat]}, periodSeconds: -1}}]}",
		`x.yaml: document 1: spec.containers[0].readinessProbe.periodSeconds: invalid value -1: must be between 0 and 86400`},
	{"dup-service", "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 1}]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 2}]}",
		`x.yaml: document 2: metadata.name: duplicate service "a" in namespace "default" (first in document 1)`},
	{"podlist-of-service", "apiVersion: v1\nkind: PodList\nitems: [{apiVersion: v1, kind: Service}]", `x.yaml: document 1: items[0].kind: unsupported kind "Service": a PodList may hold only v1 Pods`},
	{"no-name", "apiVersion: v1\nkind: Pod\nspec: {containers: [{name: c}]}", `x.yaml: document 1: metadata.name: required`},
	{"bad-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Demo}\nspec: {containers: [{name: c}]}",
		`x.yaml: document 1: metadata.name: invalid value "Demo": ` + subdomainMsg},
	{"bad-namespace", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: a.b}\nspec: {containers: [{name: c}]}",
		`x.yaml: document 1: metadata.namespace: invalid value "a.b": ` + labelMsg},
	{"no-containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: []}", `x.yaml: document 1: spec.containers: at least one container is required`},
	{"no-container-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{image: x}]}", `x.yaml: document 1: spec.containers[0].name: required`},
	{"bad-container-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}, {name: c_2}]}",
		`x.yaml: document 1: spec.containers[1].name: invalid value "c_2": ` + labelMsg},
	{"dup-container", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {initContainers: [{name: c}], containers: [{name: c}]}",
		`x.yaml: document 1: spec.containers[0].name: duplicate container name "c" (also spec.initContainers[0])`},
	{"bad-port", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{containerPort: 0}]}]}",
		`x.yaml: document 1: spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive`},
	{"bad-protocol", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{containerPort: 1, protocol: tcp}]}]}",
		`x.yaml: document 1: spec.containers[0].ports[0].protocol: unsupported value "tcp": must be TCP, UDP or SCTP`},
	{"bad-restart", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {restartPolicy: Sometimes, containers: [{name: c}]}",
		`x.yaml: document 1: spec.restartPolicy: unsupported value "Sometimes": must be Always, OnFailure or Never`},
	{"env-no-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{value: x}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].name: required`},
	{"wrong-type", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, command: sh}]}",
		`x.yaml: document 1: spec.containers.command: cannot use a JSON string as []string`},
	{"second-doc", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\nkind: Pod\napiVersion: v1\nmetadata: {name: b}\n",
		`x.yaml: document 2: spec.containers: at least one container is required`},
	{"dup-pod", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: default}\nspec: {containers: [{name: c}]}",
		`x.yaml: document 2: metadata.name: duplicate pod "a" in namespace "default" (first in document 1)`},
	{"namespace-name", "apiVersion: v1\nkind: Namespace\nmetadata: {name: Apps}", `x.yaml: document 1: metadata.name: invalid value "Apps": must be a DNS-1123 label: at most 63 lower case letters, digits or '-', starting and ending with a letter or digit`},
	{"namespace-version", "apiVersion: apps/v1\nkind: Namespace\nmetadata: {name: apps}", `x.yaml: document 1: apiVersion: no matches for kind "Namespace" in version "apps/v1" (want "v1")`},
	{"list-of-job", "apiVersion: v1\nkind: List\nitems: [{apiVersion: batch/v1, kind: Job}]", `x.yaml: document 1: items[0].kind: unsupported kind "Job": a list may hold only v1 Pod, v1 Service, apps/v1 Deployment, apps/v1 ReplicaSet, v1 Namespace, v1 ConfigMap, v1 Secret`},
	{"secret-key", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {'a b': x}",
		`x.yaml: document 1: data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
	{"secret-base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ndata: {k: '!!'}",
		`x.yaml: document 1: data: illegal base64 data at input byte 0`},
	{"secret-tls", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}",
		`x.yaml: document 1: data[tls.key]: Required value`},
	{"secret-dockerconfigjson", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: '{'}",
		`x.yaml: document 1: data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end of JSON input`},
	{"secret-too-big", "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\nstringData: {a: '" + strings.Repeat("x", 1<<19) + "', b: '" + strings.Repeat("y", 1<<19) + "x'}",
		`x.yaml: document 1: data: Too long: may not be more than 1048576 bytes`},
	{"configmap-key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {'a b': x}",
		`x.yaml: document 1: data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`},
	{"configmap-dotdot", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbinaryData: {..x: eA==}",
		`x.yaml: document 1: binaryData[..x]: Invalid value: "..x": must not start with '..'`},
	{"configmap-dup-key", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: x}\nbinaryData: {k: eA==}",
		`x.yaml: document 1: data[k]: Invalid value: "k": duplicate of key present in binaryData`},
	{"configmap-binary", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nbinaryData: {k: '!!'}",
		`x.yaml: document 1: binaryData: illegal base64 data at input byte 0`},
	{"configmap-too-big", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: '" + strings.Repeat("x", 1<<19) + "', b: '" + strings.Repeat("y", 1<<19) + "x'}",
		`x.yaml: document 1: Too long: may not be more than 1048576 bytes`},
	{"env-bad-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: 'A=B', value: x}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].name: invalid value "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`},
	{"env-empty-from", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {}}]}]}",
		"x.yaml: document 1: spec.containers[0].env[0].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"},
	{"env-value-and-from", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, value: x, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]}]}",
		"x.yaml: document 1: spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty"},
	{"env-two-sources", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.name}, configMapKeyRef: {name: m, key: k}}}]}]}",
		"x.yaml: document 1: spec.containers[0].env[0].valueFrom: Invalid value: \"\": may not have more than one field specified at a time"},
	{"env-field-path", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {fieldRef: {fieldPath: spec.hostname}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.hostname": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`},
	{"env-field-subscript", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {fieldRef: {fieldPath: \"spec.x['y']\"}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.fieldRef: invalid value "spec.x": does not support subscript`},
	{"env-field-version", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {fieldRef: {apiVersion: v2, fieldPath: metadata.name}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: invalid value "metadata.name": error converting fieldPath: unsupported pod version: v2`},
	{"env-resource", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.gpu}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.resourceFieldRef.resource: Unsupported value: "limits.gpu": supported values: "limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"`},
	{"env-cpu-divisor", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1Mi}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: invalid value "limits.cpu": only divisor's values 1m and 1 are supported with the cpu resource`},
	{"env-memory-divisor", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 2Mi}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: invalid value "requests.memory": only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with this resource`},
	{"env-configmap-key", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {configMapKeyRef: {name: m}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.configMapKeyRef.key: required`},
	{"env-secret-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, env: [{name: A, valueFrom: {secretKeyRef: {key: k}}}]}]}",
		`x.yaml: document 1: spec.containers[0].env[0].valueFrom.secretKeyRef.name: required`},
	{"envfrom-none", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, envFrom: [{prefix: P_}]}]}",
		"x.yaml: document 1: spec.containers[0].envFrom[0]: Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"},
	{"envfrom-name", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, envFrom: [{configMapRef: {optional: true}}]}]}",
		`x.yaml: document 1: spec.containers[0].envFrom[0].configMapRef.name: required`},
	{"list-item-invalid", "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: A}]}}]",
		`x.yaml: document 1: items[0].spec.containers[0].name: invalid value "A": ` + labelMsg},
	{"non-string-key", "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {1: x}}", `x.yaml: document 1: metadata.labels: map key 1 is not a string`},
	{"infinity", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nx: .inf", `x.yaml: document 1: x: +Inf is not a JSON number`},
}

func TestDecodePodsErrors(t *testing.T) {
	for _, tc := range decodeBad {
		t.Run(tc.name, func(t *testing.T) {
			pods, err := Decode(strings.NewReader(tc.in), "x.yaml")
			if err == nil {
				t.Fatalf("got pods %+v, want error %q", pods, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %T, want *DecodeError", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

// maxSeed bounds the fuzz seeds taken from the test tables: a 1 MiB one
// (a ConfigMap too large) made FuzzDecode a thousand times slower, each
// mutation of it decoding a megabyte.
const maxSeed = 64 << 10

var decodeWorkloads = []struct {
	name, in string
}{
	{"workloads", `
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: admin, port: 9000, targetPort: 9001, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec: {clusterIP: None, selector: {app: web}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apps}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front, edge]}]
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
      - name: web
        command: [sleep, infinity]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 1
---
apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: ReplicaSet
  metadata: {name: rs}
  spec:
    selector: {matchLabels: {app: rs}}
    template:
      metadata: {labels: {app: rs}}
      spec: {containers: [{name: c, readinessProbe: {tcpSocket: {port: 80}}}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: bare}
  spec: {containers: [{name: c, readinessProbe: {exec: {command: [cat, /tmp/ready]}}}]}
- apiVersion: v1
  kind: Namespace
  metadata: {name: apps, namespace: ignored, labels: {team: web}}
`},
	{"config", `
apiVersion: v1
kind: ConfigMap
metadata: {name: app, namespace: apps}
data: {GREETING: hello, app.conf: "port=8080\n"}
binaryData: {logo.png: iVBORw0KGgo=}
immutable: true
---
apiVersion: v1
kind: Pod
metadata: {name: reader, namespace: apps}
spec:
  containers:
  - name: c
    envFrom:
    - configMapRef: {name: app}
    - prefix: OPT_
      configMapRef: {name: extra, optional: true}
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: TEAM, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: "metadata.labels['team']"}}}
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: app, key: GREETING}}}
    - {name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token, optional: true}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
`},
	{"secret", `
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: apps}
data: {user: Ym9i, token: c3RhbGU=}
stringData: {token: fresh}
---
apiVersion: v1
kind: Secret
metadata: {name: tls}
type: kubernetes.io/tls
data: {tls.crt: Y2VydA==, tls.key: a2V5}
immutable: true
`},
}

// TestDecodeWorkloads: Services, Deployments and ReplicaSets decode next
// to pods, in documents and in a List, with their defaults.
func TestDecodeWorkloads(t *testing.T) {
	for _, tc := range decodeWorkloads {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Decode(strings.NewReader(tc.in), "in.yaml")
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			got, err := json.MarshalIndent(objs, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden.Compare(t, "decode/"+tc.name+".json", append(got, '\n'))
			if _, err := DecodePods(strings.NewReader(tc.in), "in.yaml"); err == nil || err.Error() != "in.yaml: only pods are accepted here" {
				t.Errorf("DecodePods of workloads: %v", err)
			}
		})
	}
}

func TestDecodePodsTooLarge(t *testing.T) {
	in := bytes.Repeat([]byte("#"), MaxManifestSize+1)
	_, err := DecodePods(bytes.NewReader(in), "big.yaml")
	if want := "big.yaml: larger than 8388608 bytes"; err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestValidateLongNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), true}, // a subdomain may have longer labels than 63
		{strings.Repeat("a.", 126) + "a", true},
		{strings.Repeat("a", 254), false},
		{"a..b", false},
		{"-a", false},
		{"a-", false},
		{"a.b-c.d9", true},
	} {
		p := &Pod{ObjectMeta: ObjectMeta{Name: tc.name}, Spec: PodSpec{Containers: []Container{{Name: "c"}}}}
		if err := p.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(name %q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestValidateAnnotationsSize: an object's annotations, and a workload
// template's, are at most 256 KiB, keys and values together, as the API
// server bounds them.
func TestValidateAnnotationsSize(t *testing.T) {
	big := func(n int) map[string]string { return map[string]string{"k": strings.Repeat("v", n-1)} }
	spec := PodSpec{Containers: []Container{{Name: "c"}}}
	labels := map[string]string{"app": "w"}
	workload := func(meta, tmpl map[string]string) error {
		return (&Deployment{ObjectMeta: ObjectMeta{Name: "w", Annotations: meta}, Spec: DeploymentSpec{
			Selector: &LabelSelector{MatchLabels: labels},
			Template: PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: labels, Annotations: tmpl}, Spec: spec}}}).Validate()
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"pod at the bound", (&Pod{ObjectMeta: ObjectMeta{Name: "p", Annotations: big(MaxAnnotationsSize)}, Spec: spec}).Validate(), ""},
		{"pod past it", (&Pod{ObjectMeta: ObjectMeta{Name: "p", Annotations: big(MaxAnnotationsSize + 1)}, Spec: spec}).Validate(),
			"metadata.annotations: Too long: must have at most 262144 bytes"},
		{"service past it", (&Service{ObjectMeta: ObjectMeta{Name: "s", Annotations: big(MaxAnnotationsSize + 1)},
			Spec: ServiceSpec{Ports: []ServicePort{{Port: 80}}}}).Validate(), "metadata.annotations: Too long: must have at most 262144 bytes"},
		{"deployment past it", workload(big(MaxAnnotationsSize+1), nil), "metadata.annotations: Too long: must have at most 262144 bytes"},
		{"template past it", workload(nil, big(MaxAnnotationsSize+1)), "spec.template.metadata.annotations: Too long: must have at most 262144 bytes"},
	} {
		if got := fmt.Sprint(tc.err); (tc.want == "" && tc.err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}

// TestValidateContainerCount: a pod (or a workload's template) has at
// most MaxContainers containers, init containers included.
func TestValidateContainerCount(t *testing.T) {
	containers := func(prefix string, n int) []Container {
		out := make([]Container, n)
		for i := range out {
			out[i] = Container{Name: fmt.Sprint(prefix, i)}
		}
		return out
	}
	for _, tc := range []struct {
		init, main int
		want       string
	}{
		{0, MaxContainers, ""},
		{1, MaxContainers - 1, ""},
		{0, MaxContainers + 1, "spec.containers: Too many: 33: must have at most 32 items, init containers included"},
		{2, MaxContainers - 1, "spec.containers: Too many: 33: must have at most 32 items, init containers included"},
	} {
		err := (&Pod{ObjectMeta: ObjectMeta{Name: "p"}, Spec: PodSpec{InitContainers: containers("i", tc.init), Containers: containers("c", tc.main)}}).Validate()
		if (tc.want == "" && err != nil) || (tc.want != "" && fmt.Sprint(err) != tc.want) {
			t.Errorf("%d init and %d containers: %v, want %q", tc.init, tc.main, err, tc.want)
		}
	}
}

// FuzzDecode: any input decodes or fails with a *DecodeError, never
// panics; what decodes survives a JSON round trip as a List unchanged.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeWorkloads {
		f.Add([]byte(tc.in))
	}
	for _, tc := range decodeBad {
		if len(tc.in) <= maxSeed {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		objs, err := Decode(bytes.NewReader(in), "fuzz")
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %T %v, want *DecodeError", err, err)
			}
			return
		}
		var items []any
		for _, p := range objs.Pods {
			p.Kind, p.APIVersion = "Pod", "v1"
			items = append(items, p)
		}
		for _, s := range objs.Services {
			s.Kind, s.APIVersion = "Service", "v1"
			items = append(items, s)
		}
		for _, d := range objs.Deployments {
			d.Kind, d.APIVersion = "Deployment", "apps/v1"
			items = append(items, d)
		}
		for _, rs := range objs.ReplicaSets {
			rs.Kind, rs.APIVersion = "ReplicaSet", "apps/v1"
			items = append(items, rs)
		}
		for _, ns := range objs.Namespaces {
			ns.Kind, ns.APIVersion = "Namespace", "v1"
			items = append(items, ns)
		}
		for _, cm := range objs.ConfigMaps {
			cm.Kind, cm.APIVersion = "ConfigMap", "v1"
			items = append(items, cm)
		}
		for _, s := range objs.Secrets {
			s.Kind, s.APIVersion = "Secret", "v1"
			items = append(items, s)
		}
		list, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(bytes.NewReader(list), "again")
		if err != nil {
			t.Fatalf("re-decode %s: %v", list, err)
		}
		a, _ := json.Marshal(objs)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip:\ngot  %s\nwant %s", b, a)
		}
	})
}

// FuzzDecodePods: any input decodes or fails with a *DecodeError, never
// panics; what decodes survives a JSON round trip unchanged.
func FuzzDecodePods(f *testing.F) {
	for _, tc := range decodeOK {
		f.Add([]byte(tc.in))
	}
	for _, tc := range decodeBad {
		if len(tc.in) <= maxSeed {
			f.Add([]byte(tc.in))
		}
	}
	f.Add([]byte("a: &a [*a, *a]\nb: *a"))
	f.Add([]byte("!!binary aGVsbG8="))
	f.Fuzz(func(t *testing.T, in []byte) {
		pods, err := DecodePods(bytes.NewReader(in), "fuzz")
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %T %v, want *DecodeError", err, err)
			}
			return
		}
		var buf bytes.Buffer
		for _, p := range pods {
			p.Kind, p.APIVersion = "Pod", "v1"
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			buf.WriteString("\n---\n")
		}
		again, err := DecodePods(&buf, "again")
		if err != nil {
			t.Fatalf("re-decode %s: %v", buf.Bytes(), err)
		}
		a, _ := json.Marshal(pods)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip:\ngot  %s\nwant %s", b, a)
		}
	})
}

// TestValidateLabels: label keys are qualified names, values empty or
// names, as the API server checks them, on objects and pod templates.
func TestValidateLabels(t *testing.T) {
	spec := PodSpec{Containers: []Container{{Name: "c"}}}
	pod := func(labels map[string]string) error {
		return (&Pod{ObjectMeta: ObjectMeta{Name: "p", Labels: labels}, Spec: spec}).Validate()
	}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"app": "web", "app.kubernetes.io/name": "Web_1.x", "empty": "", "A-b_c.D": "v"}, ""},
		{map[string]string{"bad key": "v"}, `metadata.labels: invalid value "bad key": name part must consist of`},
		{map[string]string{"-app": "v"}, `metadata.labels: invalid value "-app": name part`},
		{map[string]string{"Example.com/app": "v"}, `metadata.labels: invalid value "Example.com/app": prefix part`},
		{map[string]string{"a/b/c": "v"}, `metadata.labels: invalid value "a/b/c": name part`},
		{map[string]string{strings.Repeat("k", 64): "v"}, `name part must consist`},
		{map[string]string{"app": "two words"}, `metadata.labels: invalid value "two words": a valid label must be an empty string`},
		{map[string]string{"app": strings.Repeat("v", 64)}, `a valid label must be an empty string`},
		{map[string]string{"app": "web-"}, `invalid value "web-": a valid label`},
	} {
		if err := fmt.Sprint(pod(tc.labels)); tc.want == "" && err != "<nil>" || tc.want != "" && !strings.Contains(err, tc.want) {
			t.Errorf("%v: %s, want %q", tc.labels, err, tc.want)
		}
	}
	d := &Deployment{ObjectMeta: ObjectMeta{Name: "w"}, Spec: DeploymentSpec{
		Selector: &LabelSelector{MatchLabels: map[string]string{"app": "w"}},
		Template: PodTemplateSpec{ObjectMeta: ObjectMeta{Labels: map[string]string{"app": "w", "x": "no good"}}, Spec: spec}}}
	if err := fmt.Sprint(d.Validate()); !strings.HasPrefix(err, `spec.template.metadata.labels: invalid value "no good"`) {
		t.Errorf("a template's labels: %s", err)
	}
}

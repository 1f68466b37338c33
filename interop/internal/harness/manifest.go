package harness

// Pods of the test manifest. Every container is a local process on this
// machine (porthole's local runtime), so commands name host binaries.
const (
	Namespace = "default"

	// PodExec has one plain container for exec cases.
	PodExec = "exec"
	// PodCat runs cat with stdin open and no tty: attach echoes lines.
	PodCat = "cat"
	// PodTTY runs sh with stdin and a tty.
	PodTTY = "tty"
	// PodTwo has two containers, ContainerA and ContainerB, so exec
	// without -c or with an unknown name hits the container errors.
	PodTwo = "two"

	// ContainerMain is the single container of PodExec, PodCat and PodTTY.
	ContainerMain = "main"
	ContainerA    = "a"
	ContainerB    = "b"
)

// Manifest is the pods file handed to `porthole serve -f`: a YAML stream of
// v1 Pods, one document each, as kubectl would apply them.
const Manifest = `apiVersion: v1
kind: Pod
metadata:
  name: exec
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["sleep", "infinity"]
---
apiVersion: v1
kind: Pod
metadata:
  name: cat
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["cat"]
    stdin: true
---
apiVersion: v1
kind: Pod
metadata:
  name: tty
  namespace: default
spec:
  containers:
  - name: main
    image: local
    command: ["sh"]
    stdin: true
    tty: true
---
apiVersion: v1
kind: Pod
metadata:
  name: two
  namespace: default
spec:
  containers:
  - name: a
    image: local
    command: ["sleep", "infinity"]
  - name: b
    image: local
    command: ["sleep", "infinity"]
`

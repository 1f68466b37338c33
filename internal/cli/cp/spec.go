package cp

import (
	"errors"
	"strings"
)

// Spec is one side of a copy: a local path (Pod empty) or a path in a pod.
type Spec struct {
	Namespace, Pod, Path string
}

var errSpecFormat = errors.New("filespec must match the canonical format: [[namespace/]pod:]file/path")

// ParseSpec reads kubectl's [[NAMESPACE/]POD:]PATH. Everything before the
// first colon names the pod, as in kubectl, except that an argument
// starting with "/" or "." is always local: no pod or namespace name can
// start with either, and kubectl would reject "./a:b" or read it as pod "a"
// in namespace ".".
func ParseSpec(arg string) (Spec, error) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return Spec{Path: arg}, nil
	}
	i := strings.Index(arg, ":")
	switch {
	case i == 0:
		return Spec{}, errSpecFormat
	case i < 0:
		return Spec{Path: arg}, nil
	}
	pod, file := arg[:i], arg[i+1:]
	ns, name, hasNS := strings.Cut(pod, "/")
	if !hasNS {
		return Spec{Pod: pod, Path: file}, nil
	}
	if ns == "" || name == "" || strings.Contains(name, "/") {
		return Spec{}, errSpecFormat
	}
	return Spec{Namespace: ns, Pod: name, Path: file}, nil
}

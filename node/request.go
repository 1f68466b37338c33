package node

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/status"
)

// request is one streaming request, parsed and validated before any upgrade.
type request struct {
	verb      string // "exec", "attach", "portforward"
	namespace string
	pod       string
	container string
	command   []string
	stdin     bool
	stdout    bool
	stderr    bool
	tty       bool
	ports     []uint16
}

// want is the session's streams as the request asks for them.
func (r *request) want() protocol.Want {
	return protocol.Want{Stdin: r.stdin, Stdout: r.stdout, Stderr: r.stderr, TTY: r.tty}
}

func badRequest(format string, args ...any) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusBadRequest, status.ReasonBadRequest, fmt.Sprintf(format, args...), nil)}
}

func notFound(kind, name string) *status.HTTPError {
	return &status.HTTPError{Status: status.NewHTTP(http.StatusNotFound, status.ReasonNotFound,
		fmt.Sprintf("%s %q not found", kind, name), &status.Details{Name: name, Kind: kind})}
}

// parseRequest reads the API-server shaped query of r (PROTOCOL.md 2.1).
func parseRequest(r *http.Request, verb string) (*request, *status.HTTPError) {
	q := r.URL.Query()
	req := &request{
		verb:      verb,
		namespace: r.PathValue("namespace"),
		pod:       r.PathValue("pod"),
		container: q.Get("container"),
	}
	if _, ok := q["dryRun"]; ok {
		return nil, badRequest("dryRun is not supported")
	}
	if verb == "portforward" {
		ports, err := parsePorts(q["ports"])
		if err != nil {
			return nil, badRequest("%v", err)
		}
		req.ports = ports
		return req, nil
	}
	req.stdin = protocol.QueryBool(q, "stdin")
	req.stdout = protocol.QueryBool(q, "stdout")
	req.stderr = protocol.QueryBool(q, "stderr")
	req.tty = protocol.QueryBool(q, "tty")
	if verb == "exec" {
		req.command = q["command"]
		if len(req.command) == 0 {
			return nil, badRequest("you must specify at least one command for the container")
		}
	}
	if !req.stdin && !req.stdout && !req.stderr {
		return nil, badRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	if req.tty && req.stderr {
		// A terminal merges stderr into stdout; the kubelet drops stderr
		// silently and so do we (PROTOCOL.md 2.2).
		req.stderr = false
	}
	return req, nil
}

// parsePorts reads "ports" values, repeated and/or comma separated.
func parsePorts(values []string) ([]uint16, error) {
	var out []uint16
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("invalid port %q: must be between 1 and 65535", p)
			}
			out = append(out, uint16(n))
		}
	}
	return out, nil
}

// resolveContainer picks and checks the container like the API server
// (PROTOCOL.md 2.1): it may be omitted only when the pod has one container.
func resolveContainer(pod *kube.Pod, name string) (string, *status.HTTPError) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		default:
			names := make([]string, len(pod.Spec.Containers))
			for i, c := range pod.Spec.Containers {
				names[i] = c.Name
			}
			return "", badRequest("a container name must be specified for pod %s, choose one of: [%s]",
				pod.Name, strings.Join(names, " "))
		}
	}
	if _, ok := pod.FindContainer(name); !ok {
		return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
	}
	return name, nil
}

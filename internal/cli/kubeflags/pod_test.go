package kubeflags

import (
	"io"
	"testing"

	"github.com/porthole/porthole/kube"
)

// TestContainer: -c names a container, an init container or an
// ephemeral one (kubectl attach -c debugger-xyz after kubectl debug); a
// name that is none of them is refused listing all, as kubectl does.
func TestContainer(t *testing.T) {
	pod := &kube.Pod{ObjectMeta: kube.ObjectMeta{Name: "p"}, Spec: kube.PodSpec{
		Containers:          []kube.Container{{Name: "a"}, {Name: "b"}},
		InitContainers:      []kube.Container{{Name: "i"}},
		EphemeralContainers: []kube.EphemeralContainer{{Container: kube.Container{Name: "dbg", TTY: true}}},
	}}
	for _, tc := range []struct{ name, want, err string }{
		{"", "a", ""},
		{"b", "b", ""},
		{"i", "i", ""},
		{"dbg", "dbg", ""},
		{"zz", "", "container zz is not valid for pod p out of: a, b, i (init), dbg (ephem)"},
	} {
		c, err := Container(pod, tc.name, io.Discard)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("-c %q: got %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || c.Name != tc.want):
			t.Errorf("-c %q: got %v %v, want %s", tc.name, c, err, tc.want)
		}
	}
}

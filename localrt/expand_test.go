package localrt

import (
	"context"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
)

var expandVars = map[string]string{"A": "alpha", "B": "$(A)", "EMPTY": ""}

func expandLookup(name string) (string, bool) {
	v, ok := expandVars[name]
	return v, ok
}

func TestExpand(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "alpha"},
		{"x$(A)y$(A)", "xalphayalpha"},
		{"$(B)", "$(A)"}, // values are not expanded again
		{"$(EMPTY)|", "|"},
		{"$(UNDEFINED)", "$(UNDEFINED)"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$alpha"},
		{"$$", "$"},
		{"$A", "$A"},
		{"$", "$"},
		{"a$", "a$"},
		{"$(A", "$(A"},
		{"$()", "$()"},
		{"$(A)$(", "alpha$("},
	}
	for _, tt := range tests {
		if got := expand(tt.in, expandLookup); got != tt.want {
			t.Errorf("expand(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzExpand: expansion never panics, leaves strings without $ alone, and
// with nothing defined only unescapes $$.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "plain", "$(A)", "$$(A)", "$(A", "$", "a$", "$()", "$$$(B)"} {
		f.Add(s)
	}
	none := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, s string) {
		got := expand(s, expandLookup)
		if !strings.Contains(s, "$") && got != s {
			t.Fatalf("expand(%q) = %q, want it unchanged", s, got)
		}
		if !strings.Contains(s, "$$") && expand(s, none) != s {
			t.Fatalf("expand(%q) with nothing defined = %q, want it unchanged", s, expand(s, none))
		}
	})
}

func TestExpandInPod(t *testing.T) {
	env := []kube.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "$(A)-x"}, {Name: "C", Value: "$(D)"}, {Name: "D", Value: "late"}}
	r := start(t, testPod("p", kube.Container{Command: []string{"echo", "$(B)"}, Args: []string{"$$(A)", "$(NOPE)", "$(C)"}, Env: env}, restartNever))
	waitPod(t, r, "p", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == phaseSucceeded })
	got, err := r.Logs(context.Background(), ref("p", "main"), false)
	if want := "1-x $(A) $(NOPE) $(D)\n"; err != nil || string(got) != want {
		t.Errorf("main process printed %q, %v; want %q", got, err, want)
	}
}

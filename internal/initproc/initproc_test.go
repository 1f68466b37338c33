package initproc

import (
	"slices"
	"testing"
)

// TestWanted: Env decides, and unset it is the pid (not 1 here).
func TestWanted(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"", false}, {"0", false}, {"1", supported}, {"yes", false}} {
		t.Setenv(Env, tc.env)
		if got := Wanted(); got != tc.want {
			t.Errorf("%s=%q: Wanted %t, want %t", Env, tc.env, got, tc.want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"A=1", Env + "=1", Env + "X=2", "B=" + Env + "=1"})
	if want := []string{"A=1", Env + "X=2", "B=" + Env + "=1"}; !slices.Equal(got, want) {
		t.Errorf("childEnv %q, want %q", got, want)
	}
}

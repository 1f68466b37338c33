package localrt

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// FuzzRing checks the ring against the obvious model: the last n bytes of
// everything written. Each input byte is a write length (mod 23).
func FuzzRing(f *testing.F) {
	for _, seed := range []string{"", "\x00", "\x07", "\x08", "\x03\x04", "\x06\x01\x00\x07", "\x16\x16", "\x05\x05\x05\x05"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script string) {
		const n = 7
		r := newRing(n)
		var all []byte
		c := byte(0)
		for i := 0; i < len(script); i++ {
			p := make([]byte, int(script[i])%23)
			for j := range p {
				c++
				p[j] = c
			}
			r.write(p)
			all = append(all, p...)
			want := all
			if len(want) > n {
				want = want[len(want)-n:]
			}
			if got := r.bytes(); !bytes.Equal(got, want) {
				t.Fatalf("after write %d: got %v, want %v", i, got, want)
			}
		}
	})
}

func TestLogs(t *testing.T) {
	// Fails once (leaving a marker in its working directory), then succeeds.
	script := `if [ -e marker ]; then echo second; exit 0; fi; touch marker; echo first; echo err >&2; exit 1`
	r := start(t,
		testPod("p", kube.Container{Command: []string{"sh", "-c", script}}, RestartOnFailure),
		testPod("big", kube.Container{Command: []string{"sh", "-c", "head -c 100000 /dev/zero; echo end"}}, RestartNever))
	waitPod(t, r, "p", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == PhaseSucceeded })
	for _, tt := range []struct {
		previous bool
		want     []string // stdout and stderr are separate pipes: any of these orders
	}{
		{false, []string{"second\n"}},
		{true, []string{"first\nerr\n", "err\nfirst\n"}},
	} {
		got, err := r.Logs(context.Background(), ref("p", "main"), tt.previous)
		if err != nil {
			t.Fatalf("Logs(previous=%v): %v", tt.previous, err)
		}
		if !slices.Contains(tt.want, string(got)) {
			t.Errorf("Logs(previous=%v): got %q, want one of %q", tt.previous, got, tt.want)
		}
	}
	waitPod(t, r, "big", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == PhaseSucceeded })
	got, err := r.Logs(context.Background(), ref("big", "main"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != LogTail || !strings.HasSuffix(string(got), "\x00\x00end\n") {
		t.Errorf("got %d bytes ending %q, want %d ending in the last line", len(got), got[max(0, len(got)-8):], LogTail)
	}
	if _, err := r.Logs(context.Background(), ref("big", "main"), true); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("previous of a first run: got %v, want ErrNotFound", err)
	}
	if _, err := r.Logs(context.Background(), ref("big", "nope"), false); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("unknown container: got %v, want ErrNotFound", err)
	}
}

package localrt

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/node"
)

// FuzzRing checks the ring against the obvious model: the last n bytes of
// everything written; lines that begin at the oldest kept byte and after
// every newline, each with the time of the write its first byte came in;
// reads from any offset. Each input byte is a write length (mod 23); every
// fifth byte written is a newline.
func FuzzRing(f *testing.F) {
	for _, seed := range []string{"", "\x00", "\x07", "\x08", "\x03\x04", "\x06\x01\x00\x07", "\x16\x16", "\x05\x05\x05\x05"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script string) {
		const n = 7
		r := newRing(n)
		clock := time.Unix(0, 0)
		r.now = func() time.Time { return clock }
		var all []byte
		var when []time.Time // of each byte written
		c := byte(0)
		for i := 0; i < len(script); i++ {
			clock = clock.Add(time.Second)
			p := make([]byte, int(script[i])%23)
			for j := range p {
				c++
				p[j] = c
				if c%5 == 0 {
					p[j] = '\n'
				}
				when = append(when, clock)
			}
			r.write(p)
			all = append(all, p...)
			oldest := max(0, len(all)-n)
			for from := int64(0); from <= int64(len(all)); from++ {
				if from == 2 && oldest > 4 {
					// Every read from before the oldest byte kept is one
					// from that byte: two of them suffice. Reading from
					// each offset written made a long script quadratic
					// (a 13 KB one took 96 s).
					from = int64(oldest) - 2
				}
				data, lines, next, _, _ := r.read(from)
				start := max(int(from), oldest)
				if next != int64(len(all)) || !bytes.Equal(data, all[start:]) {
					t.Fatalf("after write %d, read(%d): %v next %d; want %v next %d", i, from, data, next, all[start:], len(all))
				}
				var want []node.LineStart
				for k := oldest; k < len(all); k++ {
					if k == oldest || all[k-1] == '\n' {
						if k <= start && len(want) > 0 {
							want = want[:0]
						}
						want = append(want, node.LineStart{Offset: int64(k), Time: when[k]})
					}
				}
				if !slices.EqualFunc(lines, want, func(a, b node.LineStart) bool { return a.Offset == b.Offset && a.Time.Equal(b.Time) }) {
					t.Fatalf("after write %d, read(%d): lines %v, want %v (data %v)", i, from, lines, want, all[oldest:])
				}
			}
		}
	})
}

func TestLogs(t *testing.T) {
	// Fails once (leaving a marker in its working directory), then succeeds.
	script := `if [ -e marker ]; then echo second; exit 0; fi; touch marker; echo first; echo err >&2; exit 1`
	r := start(t,
		testPod("p", kube.Container{Command: []string{"sh", "-c", script}}, restartOnFailure),
		testPod("big", kube.Container{Command: []string{"sh", "-c", "head -c 100000 /dev/zero; echo end"}}, restartNever))
	waitPod(t, r, "p", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == phaseSucceeded })
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
	waitPod(t, r, "big", "succeeded", func(p *kube.Pod) bool { return p.Status.Phase == phaseSucceeded })
	got, err := r.Logs(context.Background(), ref("big", "main"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != logTail || !strings.HasSuffix(string(got), "\x00\x00end\n") {
		t.Errorf("got %d bytes ending %q, want %d ending in the last line", len(got), got[max(0, len(got)-8):], logTail)
	}
	if _, err := r.Logs(context.Background(), ref("big", "main"), true); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("previous of a first run: got %v, want ErrNotFound", err)
	}
	if _, err := r.Logs(context.Background(), ref("big", "nope"), false); !errors.Is(err, node.ErrNotFound) {
		t.Errorf("unknown container: got %v, want ErrNotFound", err)
	}
}

// BenchmarkRingWrite is the cost the log tail adds to every chunk of
// output a container prints (32 KiB of 80-byte lines per write).
func BenchmarkRingWrite(b *testing.B) {
	line := append(bytes.Repeat([]byte("x"), 79), '\n')
	chunk := bytes.Repeat(line, 32<<10/len(line))
	r := newRing(logTail)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		r.write(chunk)
	}
}

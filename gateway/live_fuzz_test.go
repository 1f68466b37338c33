package gateway

import (
	"bytes"
	"strconv"
	"testing"
)

// FuzzLiveSnapshot feeds a session's output to the live registry in the
// chunks the input's first bytes choose: a watcher added midway gets the
// last liveSnapshotBytes of what came before, then everything after, byte
// for byte, or is dropped once further behind than its lag allows.
func FuzzLiveSnapshot(f *testing.F) {
	f.Add([]byte{3, 1, 200}, 2, 300, 100)
	f.Add(bytes.Repeat([]byte{255}, 64), 10, 5, 70000)
	f.Add([]byte{0, 0, 1}, 0, 1<<17, 1)
	f.Add([]byte{1, 50, 200, 3, 255, 9, 77, 1, 2}, 3, 1<<20, 997) // wraps, then writes past the snapshot's size
	f.Fuzz(func(t *testing.T, sizes []byte, addAt int, lag int, scale int) {
		if len(sizes) == 0 || len(sizes) > 256 || scale <= 0 || scale > 1<<12 || lag <= 0 || lag > 1<<21 {
			return
		}
		l := newLive(&session{}, false)
		w := newWatcher("bob", false, false)
		w.lagMax = lag
		var all []byte
		var before int
		added := false
		for i, b := range sizes {
			if i == addAt%len(sizes) && !added {
				if ok, _ := l.addWatcher(w); !ok {
					t.Fatal("watcher refused")
				}
				added, before = true, len(all)
			}
			chunk := make([]byte, int(b)*scale%(1<<17))
			for j := range chunk {
				x := len(all) + j // a pattern whose period exceeds the snapshot's size
				chunk[j] = byte(x ^ x>>8 ^ x>>16)
			}
			all = append(all, chunk...)
			if n, err := l.Write(chunk); n != len(chunk) || err != nil {
				t.Fatalf("Write %d: %d %v", len(chunk), n, err)
			}
		}
		if !added {
			return
		}
		snap := max(0, before-liveSnapshotBytes)
		want := all[snap:]
		w.mu.Lock()
		got, stopped, why := w.buf, w.stopped, w.why
		w.mu.Unlock()
		switch {
		case stopped:
			if why != whyTooSlow || len(want) <= lag {
				t.Fatalf("stopped (%q) with %d bytes due and a lag of %d", why, len(want), lag)
			}
		case !bytes.Equal(got, want):
			t.Fatalf("watcher has %d bytes, want %d (the snapshot from %d)", len(got), len(want), snap)
		}
		if tail := l.tail.bytes(); len(tail) > liveSnapshotBytes || !bytes.Equal(tail, all[max(0, len(all)-liveSnapshotBytes):]) {
			t.Fatalf("snapshot of %d bytes is not the output's last %d", len(tail), liveSnapshotBytes)
		}
	})
}

// BenchmarkLiveWrite is the cost a session's output pays for the snapshot
// kept for watchers, with no watcher: a keystroke's echo, a log line, and a
// bulk chunk.
func BenchmarkLiveWrite(b *testing.B) {
	for _, size := range []int{1, 100, 32 << 10} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			l := newLive(&session{}, false)
			p := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				l.Write(p)
			}
		})
	}
}

package gateway

import (
	"bytes"
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
				chunk[j] = byte(len(all) + j)
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
		if len(l.ring) > liveSnapshotBytes || !bytes.Equal(l.ring, all[max(0, len(all)-liveSnapshotBytes):]) {
			t.Fatalf("snapshot of %d bytes is not the output's last %d", len(l.ring), liveSnapshotBytes)
		}
	})
}

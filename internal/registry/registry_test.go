package registry

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestDrain: a drained registry refuses new items; Drain returns true once
// the live ones are removed, false when its context ends first; End reaches
// every live item.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var r Registry[int]
		for i := range 3 {
			if !r.Add(i) {
				t.Fatalf("Add(%d) refused before closing", i)
			}
		}
		go func() {
			time.Sleep(time.Second)
			r.Remove(0)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if r.Drain(ctx) {
			t.Fatal("drained with two items live")
		}
		if r.Add(9) || !r.Closing() || r.Len() != 2 {
			t.Fatalf("after Drain: Add accepted or %d live, want 2", r.Len())
		}
		var ended atomic.Int32
		r.End(func(x int) {
			ended.Add(1)
			go func() {
				time.Sleep(time.Second)
				r.Remove(x)
			}()
		})
		if ended.Load() != 2 {
			t.Fatalf("End reached %d items, want 2", ended.Load())
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
		defer cancel2()
		if !r.WaitFor(ctx2) || r.Len() != 0 {
			t.Fatalf("%d items left", r.Len())
		}
		r.Wait()
	})
}

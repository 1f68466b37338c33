package localrt

import (
	"os"

	"github.com/porthole/porthole/protocol/resize"
)

// resizer applies a session's terminal sizes to a pty until the sizes
// channel closes or the session ends.
type resizer struct {
	f     *os.File
	sizes <-chan resize.Size
	quit  chan struct{}
	done  chan struct{}
}

// newResizer returns nil (a no-op resizer) when there are no sizes to apply.
func newResizer(f *os.File, sizes <-chan resize.Size) *resizer {
	if sizes == nil {
		return nil
	}
	return &resizer{f: f, sizes: sizes, quit: make(chan struct{}), done: make(chan struct{})}
}

func (rs *resizer) start() {
	if rs != nil {
		go rs.resizeLoop()
	}
}

// resizeLoop skips sizes with a zero dimension, as the kubelet does: they
// are not terminal sizes.
func (rs *resizer) resizeLoop() {
	defer close(rs.done)
	for {
		select {
		case s, ok := <-rs.sizes:
			if !ok {
				return
			}
			if s.Width > 0 && s.Height > 0 {
				setSize(rs.f, s) // fails only once the pty is closed, when sizes no longer matter
			}
		case <-rs.quit:
			return
		}
	}
}

// stop ends the loop and joins it.
func (rs *resizer) stop() {
	if rs != nil {
		close(rs.quit)
		<-rs.done
	}
}

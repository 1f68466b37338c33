package term

import (
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/porthole/porthole/protocol/resize"
)

// Sizes follows a terminal's size: it sends the sizes it was given first,
// then the new size on every SIGWINCH. Stop ends it and joins its goroutine.
type Sizes struct {
	C    <-chan resize.Size
	ch   chan resize.Size
	sig  chan os.Signal
	quit chan struct{}
	wg   sync.WaitGroup
	size func() (resize.Size, error)
}

// WatchSizes starts following fd. first are queued before any change (the
// initial size; attach sends a size one larger first to force a redraw).
func WatchSizes(fd int, first ...resize.Size) *Sizes {
	return watch(func() (resize.Size, error) { return Size(fd) }, first)
}

func watch(size func() (resize.Size, error), first []resize.Size) *Sizes {
	s := &Sizes{
		ch:   make(chan resize.Size, len(first)+1),
		sig:  make(chan os.Signal, 1),
		quit: make(chan struct{}),
		size: size,
	}
	s.C = s.ch
	for _, f := range first {
		s.ch <- f
	}
	signal.Notify(s.sig, syscall.SIGWINCH)
	s.wg.Add(1)
	go s.loop()
	return s
}

// loop sends the size after each SIGWINCH; a change that arrives while the
// previous one is still unsent replaces it (only the latest size matters).
func (s *Sizes) loop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.sig:
		case <-s.quit:
			return
		}
		sz, err := s.size()
		if err != nil {
			continue
		}
		for {
			select {
			case s.ch <- sz:
			case <-s.ch: // drop the stale size, then retry
				continue
			case <-s.quit:
				return
			}
			break
		}
	}
}

// Stop stops watching, joins, and closes C.
func (s *Sizes) Stop() {
	signal.Stop(s.sig)
	close(s.quit)
	s.wg.Wait()
	close(s.ch)
}

package term

import (
	"sync"

	"github.com/porthole/porthole/protocol/resize"
)

// Sizes follows a terminal's size: it sends the sizes it was given first,
// then the new size on every change (SIGWINCH on Unix; a poll on Windows,
// which has no such signal, as kubectl does there). Stop ends it and joins
// its goroutine.
type Sizes struct {
	C       <-chan resize.Size
	ch      chan resize.Size
	changed <-chan struct{}
	stopSrc func()
	quit    chan struct{}
	wg      sync.WaitGroup
	size    func() (resize.Size, error)
}

// WatchSizes starts following fd. first are queued before any change (the
// initial size; attach sends a size one larger first to force a redraw).
func WatchSizes(fd int, first ...resize.Size) *Sizes {
	return watch(func() (resize.Size, error) { return Size(fd) }, first)
}

func watch(size func() (resize.Size, error), first []resize.Size) *Sizes {
	s := &Sizes{
		ch:   make(chan resize.Size, len(first)+1),
		quit: make(chan struct{}),
		size: size,
	}
	s.C = s.ch
	for _, f := range first {
		s.ch <- f
	}
	var last resize.Size
	if len(first) > 0 {
		last = first[len(first)-1]
	}
	s.changed, s.stopSrc = sizeChanges(size)
	s.wg.Add(1)
	go s.loop(last)
	return s
}

// loop sends the size after each change; a change that arrives while the
// previous one is still unsent replaces it (only the latest size matters).
// A size equal to the last one sent is not sent again.
func (s *Sizes) loop(last resize.Size) {
	defer s.wg.Done()
	for {
		select {
		case <-s.changed:
		case <-s.quit:
			return
		}
		sz, err := s.size()
		if err != nil || sz == last {
			continue
		}
		last = sz
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
	s.stopSrc()
	close(s.quit)
	s.wg.Wait()
	close(s.ch)
}

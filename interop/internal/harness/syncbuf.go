package harness

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// SyncBuffer is a bytes.Buffer a process writes (its stdout or stderr)
// while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Await waits up to timeout for sub to have been written, and reports
// whether it was. A child's output reaches the buffer through os/exec's
// copying goroutine, some time after the child wrote it: a test that saw
// an effect of a later write (an answer on a socket) must still wait.
func (s *SyncBuffer) Await(sub string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !strings.Contains(s.String(), sub) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Tail is the last 2 KiB written, for failure messages.
func (s *SyncBuffer) Tail() string {
	str := s.String()
	if len(str) > 2048 {
		str = str[len(str)-2048:]
	}
	return str
}

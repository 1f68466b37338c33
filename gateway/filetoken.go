package gateway

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// tokenReread is how long a token read from a file is used before the file
// is read again (client-go's cached token source waits as long).
const tokenReread = time.Minute

// fileToken is a bearer token kept in a file that its owner rotates.
type fileToken struct {
	path string
	now  func() time.Time

	mu    sync.Mutex
	token string
	read  time.Time
}

// get returns the token, reading the file again once tokenReread has
// passed. On a failed read it returns the last token with the error.
func (f *fileToken) get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && f.now().Sub(f.read) < tokenReread {
		return f.token, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return f.token, fmt.Errorf("upstream token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return f.token, errors.New("upstream token file " + f.path + " is empty")
	}
	f.token, f.read = tok, f.now()
	return tok, nil
}

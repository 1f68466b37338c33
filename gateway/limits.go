package gateway

import "sync"

// sessionLimits counts open sessions in total and per user. Safe for
// concurrent use; the lock is never held across I/O.
type sessionLimits struct {
	mu      sync.Mutex
	max     int
	perUser int
	total   int
	byUser  map[string]int
}

func newSessionLimits(max, perUser int) *sessionLimits {
	return &sessionLimits{max: max, perUser: perUser, byUser: map[string]int{}}
}

// acquire takes a slot for user; the message says which limit was hit.
func (l *sessionLimits) acquire(user string) (ok bool, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total >= l.max {
		return false, "too many sessions: the gateway's limit of concurrent sessions is reached"
	}
	if l.byUser[user] >= l.perUser {
		return false, "too many sessions: user " + user + " has reached the limit of concurrent sessions"
	}
	l.total++
	l.byUser[user]++
	return true, ""
}

func (l *sessionLimits) release(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byUser[user]--; l.byUser[user] <= 0 {
		delete(l.byUser, user)
	}
}

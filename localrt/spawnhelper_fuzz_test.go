//go:build linux

package localrt

import (
	"bytes"
	"encoding/json"
	"syscall"
	"testing"

	"github.com/porthole/porthole/localrt/internal/spawnhelper"
)

// FuzzHelperMessages feeds the Runtime's side of the spawn helper's socket
// a run of messages (one per line of the input), with starts 1 and 2
// pending and process 100 running: nothing panics, words that are not
// JSON are refused, each waiter hears at most once and is forgotten when
// it does, and only a reply to a pending start registers a process.
func FuzzHelperMessages(f *testing.F) {
	for _, m := range []spawnhelper.Msg{
		{ID: 1, Pid: 200}, {ID: 2, Errno: int(syscall.ENOENT)}, {ID: 3, Pid: 300},
		{Exited: true, Pid: 100, Status: 256}, {Exited: true, Pid: 7}, {Ready: true},
	} {
		b, _ := json.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte(`{"id":1,"pid":200}` + "\n" + `{"exited":true,"pid":200,"status":9}` + "\n" + `{"id":1,"pid":201}`))
	f.Add([]byte(`{"id":1,"pid":-5}` + "\n" + `{"exited":true,"pid":100}` + "\n" + `{"exited":true,"pid":100}`))
	f.Add([]byte(`{"id":"x"}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"id":18446744073709551615,"pid":2147483647}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		idle := 0
		h := &spawnHelper{replies: map[uint64]chan helperReply{}, children: map[int]chan syscall.WaitStatus{},
			onIdle: func() { idle++ }}
		starts := map[uint64]chan helperReply{1: make(chan helperReply, 1), 2: make(chan helperReply, 1)}
		for id, ch := range starts {
			h.replies[id] = ch
		}
		running := make(chan syscall.WaitStatus, 1)
		h.children[100] = running
		procs := map[int]chan syscall.WaitStatus{100: running}
		for _, line := range bytes.Split(in, []byte("\n"))[:min(8, len(bytes.Split(in, []byte("\n"))))] {
			valid := json.Unmarshal(line, &spawnhelper.Msg{}) == nil
			if got := h.take(line, nil); got != valid {
				t.Fatalf("take(%q) = %v, want %v", line, got, valid)
			}
			if !valid {
				break
			}
			for id, ch := range starts {
				_, pending := h.replies[id]
				if n := len(ch); n > 1 || pending == (n == 1) {
					t.Fatalf("start %d: %d replies, still pending %v", id, n, pending)
				}
				if len(ch) == 1 {
					r := <-ch
					delete(starts, id)
					if r.msg.Pid > 0 {
						if r.status == nil || h.children[r.msg.Pid] != r.status {
							t.Fatalf("start %d's process %d is not registered", id, r.msg.Pid)
						}
						procs[r.msg.Pid] = r.status
					} else if r.status != nil {
						t.Fatalf("start %d without a process has a status channel", id)
					}
				}
			}
			for pid, ch := range procs {
				_, live := h.children[pid]
				if n := len(ch); n > 1 || live == (n == 1) {
					t.Fatalf("process %d: %d exits, still registered %v", pid, n, live)
				}
				if len(ch) == 1 {
					<-ch
					delete(procs, pid)
				}
			}
			for pid := range h.children {
				if _, ok := procs[pid]; !ok {
					t.Fatalf("process %d registered without a pending start", pid)
				}
			}
		}
	})
}

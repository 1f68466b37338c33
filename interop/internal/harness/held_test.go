package harness

import (
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestStartHeldOutlivesThreadExits: a server started with startHeld
// (Pdeathsig, OwnGroup) lives on while goroutines that locked their
// threads return, ending those threads, as an in-process localrt's
// spawner does at its Close.
func TestStartHeldOutlivesThreadExits(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = OwnGroup()
	exited := make(chan struct{})
	if err := startHeld(cmd, exited); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	for range 200 {
		ended := make(chan struct{})
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			close(ended)
		}()
		<-ended
	}
	select {
	case <-exited:
		t.Fatalf("the server died as threads ended: %v", cmd.ProcessState)
	case <-time.After(500 * time.Millisecond):
	}
	_ = cmd.Process.Kill()
	<-exited
}

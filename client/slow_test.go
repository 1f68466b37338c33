package client

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
)

// gatedWriter blocks every Write until the gate opens, after signalling
// that the first write arrived.
type gatedWriter struct {
	first chan struct{}
	gate  chan struct{}
	w     io.Writer
	n     int
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	if g.n == 0 {
		close(g.first)
	}
	g.n++
	<-g.gate
	return g.w.Write(p)
}

// TestExecSlowReader: a session whose stdout consumer stops holds back its
// own output only: another session of the same client runs meanwhile, and
// once the consumer resumes every byte arrives, in order.
func TestExecSlowReader(t *testing.T) {
	c, _ := startExecNode(t, false, false, Config{})
	data := bytes.Repeat([]byte("slow reader 0123456789\n"), 8<<20/23)
	want := sha256.Sum256(data)
	for _, wire := range wires {
		t.Run(string(wire), func(t *testing.T) {
			h := sha256.New()
			g := &gatedWriter{first: make(chan struct{}), gate: make(chan struct{}), w: h}
			errc := make(chan error, 1)
			go func() {
				errc <- c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"cat"},
					StreamOptions: StreamOptions{Stdin: bytes.NewReader(data), Stdout: g, Wire: wire}})
			}()
			<-g.first
			var out bytes.Buffer
			if err := c.Exec(execCtx(t), &ExecOptions{Pod: "p", Command: []string{"echo", "other"},
				StreamOptions: StreamOptions{Stdout: &out, Wire: wire}}); err != nil || out.String() != "other\n" {
				t.Errorf("second session while the first is stalled: %v, %q", err, out.String())
			}
			close(g.gate)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Errorf("stalled session's stdout sha256 %x, want %x", got, want)
			}
		})
	}
}

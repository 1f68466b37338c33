package localrt

import (
	"io"
	"os"
)

// stdinPump copies a caller's stdin into a process's input (a pipe or a
// pty master) on a goroutine the Runtime tracks.
type stdinPump struct {
	src      io.Reader
	dst      *os.File
	closeDst bool // a pipe: close it at EOF so the process reads EOF
	done     chan struct{}
}

// startStdin starts a pump. Callers must call stop.
func (r *Runtime) startStdin(src io.Reader, dst *os.File, closeDst bool) *stdinPump {
	p := &stdinPump{src: src, dst: dst, closeDst: closeDst, done: make(chan struct{})}
	r.goTracked(p.copyStdin)
	return p
}

func (p *stdinPump) copyStdin() {
	defer close(p.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := p.src.Read(buf)
		if n > 0 {
			if _, werr := p.dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if p.closeDst {
				p.dst.Close()
			}
			return
		}
	}
}

// stop ends the pump once the process is gone: it closes dst (ending a
// blocked Write) and interrupts a pending Read of src. When src cannot be
// interrupted the pump ends when the caller closes src, which node.Streams
// promises right after the call returns; Close joins it then.
func (p *stdinPump) stop() {
	if p == nil {
		return
	}
	if p.closeDst {
		p.dst.Close()
	}
	if interruptRead(p.src) {
		<-p.done
	}
}

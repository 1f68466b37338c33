package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStartForwardPorts(t *testing.T) {
	bin := script(t, `echo "Handling connection for 1"
echo "Forwarding from 127.0.0.1:40001 -> 80"
echo "Forwarding from 127.0.0.1:40002 -> 53/udp"
exec sleep 60
`)
	f := StartForwardPorts(t, exec.Command(bin), 2)
	if f.Addr != "127.0.0.1:40001" || strings.Join(f.Addrs, " ") != "127.0.0.1:40001 127.0.0.1:40002" {
		t.Errorf("Addr %s, Addrs %v", f.Addr, f.Addrs)
	}
	select {
	case <-f.Done:
		t.Error("Done closed while the command runs")
	default:
	}
}

func TestGatewayStartAndStop(t *testing.T) {
	bin := script(t, `[ "$1 $2 $3" = "gateway --listen 127.0.0.1:0" ] || exit 9
trap 'exit 0' TERM
echo "a line on stderr" >&2
echo "gateway listening on https://127.0.0.1:40003, as it says"
while :; do sleep 0.05; done
`)
	log := filepath.Join(t.TempDir(), "log")
	g, err := StartGateway(bin, GatewayOptions{Log: log}, "--upstream", "x")
	if err != nil {
		t.Fatal(err)
	}
	if g.URL != "https://127.0.0.1:40003" {
		t.Errorf("URL %q", g.URL)
	}
	if err := g.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if tail := g.LogTail(100); tail != "a line on stderr\n" {
		t.Errorf("log %q", tail)
	}
}

func TestGatewayExitAtStart(t *testing.T) {
	bin := script(t, "echo 'no such flag' >&2; exit 2\n")
	_, err := StartGateway(bin, GatewayOptions{Log: filepath.Join(t.TempDir(), "log")})
	if err == nil || !strings.Contains(err.Error(), "exit status 2") || !strings.Contains(err.Error(), "no such flag") {
		t.Errorf("err %v, want the exit and the log", err)
	}
}

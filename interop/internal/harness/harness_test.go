package harness

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDataFile(t *testing.T) {
	dir := t.TempDir()
	a, err := WriteDataFile(filepath.Join(dir, "a"), 3*4096+17, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := WriteDataFile(filepath.Join(dir, "b"), 3*4096+17, 7)
	if err != nil {
		t.Fatal(err)
	}
	c, err := WriteDataFile(filepath.Join(dir, "c"), 3*4096+17, 8)
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != b.SHA256 {
		t.Errorf("same seed: sha256 %s vs %s, want equal", a.SHA256, b.SHA256)
	}
	if a.SHA256 == c.SHA256 {
		t.Errorf("different seeds gave the same data")
	}
	raw, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if int64(len(raw)) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 {
		t.Errorf("file: %d bytes sha256 %x, want %d bytes %s", len(raw), sum, a.Size, a.SHA256)
	}
	var seen [256]bool
	for _, v := range raw {
		seen[v] = true
	}
	for v, ok := range seen {
		if !ok {
			t.Errorf("byte 0x%02x missing", v)
		}
	}
}

func TestHashWriter(t *testing.T) {
	w := NewHashWriter()
	_, _ = io.WriteString(w, "ab")
	_, _ = io.WriteString(w, "c")
	want := sha256.Sum256([]byte("abc"))
	if w.Len() != 3 || w.Sum() != hex.EncodeToString(want[:]) {
		t.Errorf("got %d %s, want 3 %x", w.Len(), w.Sum(), want)
	}
}

// TestProxyRecordsUpgrade sends an upgrade through the proxy to a
// scripted backend that answers 101 and echoes, and checks the record and
// that bytes pass both ways unchanged after the handshake.
func TestProxyRecordsUpgrade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	backendDone := make(chan error, 1)
	go scriptedBackend(ln, backendDone)

	p, err := NewProxy(ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	mark := p.Mark()
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "POST /api/v1/namespaces/default/pods/x/exec?command=true HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n" +
		"X-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\nContent-Length: 0\r\n\r\nHELLO"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "HELLO" {
		t.Fatalf("echo after upgrade: got %q %v, want HELLO", got, err)
	}
	if err := <-backendDone; err != nil {
		t.Fatal(err)
	}
	ups := p.UpgradesSince(mark)
	want := Upgrade{Method: "POST", RequestURI: "/api/v1/namespaces/default/pods/x/exec?command=true", Upgrade: "SPDY/3.1",
		Offered: []string{"v4.channel.k8s.io", "v3.channel.k8s.io"}, Status: 101, Negotiated: "v4.channel.k8s.io"}
	if len(ups) != 1 || fmt.Sprint(ups[0]) != fmt.Sprint(want) || !ups[0].SPDY() || ups[0].WebSocket() {
		t.Errorf("recorded %v, want [%v]", ups, want)
	}
}

// scriptedBackend accepts one connection, answers 101 and echoes the first
// five bytes that follow the request head.
func scriptedBackend(ln net.Listener, done chan<- error) {
	c, err := ln.Accept()
	if err != nil {
		done <- err
		return
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := http.ReadRequest(br); err != nil {
		done <- err
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"); err != nil {
		done <- err
		return
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(br, buf); err != nil {
		done <- err
		return
	}
	_, err = c.Write(buf)
	done <- err
}

func TestProcsWithArg(t *testing.T) {
	marker := fmt.Sprintf("1002.%09d", time.Now().UnixNano()%1e9)
	cmd := exec.Command("sleep", marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := AwaitProcs(t.Context(), "sleep\x00"+marker, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if pids := ProcsWithArg(marker); len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Errorf("pids %v, want [%d]", pids, cmd.Process.Pid)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := AwaitNoProcs(t.Context(), marker, 10*time.Second); err != nil {
		t.Error(err)
	}
}

func TestKubectlWires(t *testing.T) {
	for _, tc := range []struct {
		minor int
		want  string
	}{
		{27, "[spdy:[]]"},
		{29, "[websocket:[KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true]]"},
		{31, "[websocket:[] spdy:[KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false]]"},
		{37, "[websocket:[] spdy:[KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false]]"},
	} {
		var got bytes.Buffer
		got.WriteString("[")
		for i, w := range (Kubectl{Minor: tc.minor}).Wires() {
			if i > 0 {
				got.WriteString(" ")
			}
			fmt.Fprintf(&got, "%s:%v", w.Name, w.Env)
		}
		got.WriteString("]")
		if got.String() != tc.want {
			t.Errorf("1.%d: got %s, want %s", tc.minor, got.String(), tc.want)
		}
	}
}

// TestFreePort: ports are below the kernel's ephemeral range, bindable on
// 127.0.0.1, and never the same twice.
func TestFreePort(t *testing.T) {
	ceiling := ephemeralLow()
	seen := map[int]bool{}
	for range 50 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p < portFloor || p >= ceiling || seen[p] {
			t.Fatalf("port %d: want one in [%d, %d) not given before", p, portFloor, ceiling)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("bind the port given: %v", err)
		}
		ln.Close()
	}
}

// TestReadJSONLines: only finished lines are read; a line still being
// written, and blank lines, are not.
func TestReadJSONLines(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		want          []string
	}{
		{"none", "", nil},
		{"a partial first line", `{"a":`, nil},
		{"two lines", "{\"a\":1}\n{\"b\":2}\n", []string{`{"a":1}`, `{"b":2}`}},
		{"a line and part of the next", "{\"a\":1}\n\n{\"b\":", []string{`{"a":1}`}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		lines, err := ReadJSONLines(path)
		var got []string
		for _, l := range lines {
			got = append(got, string(l))
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q %v, want %q", tc.name, got, err, tc.want)
		}
	}
	if lines, err := ReadJSONLines(filepath.Join(dir, "missing")); lines != nil || err != nil {
		t.Errorf("a missing file: %q %v", lines, err)
	}
}

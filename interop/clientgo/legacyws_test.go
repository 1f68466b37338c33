package clientgo

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/porthole/porthole/interop/criref"
	"github.com/porthole/porthole/interop/internal/harness"
)

// wsProto describes one WebSocket subprotocol as the server must speak it
// (PROTOCOL.md 3.1).
type wsProto struct {
	name       string // offered subprotocol; "" offers none
	base64     bool   // text frames, '0'+channel then base64
	statusJSON bool   // error channel carries Status JSON (v4, v5)
	closeSig   bool   // v5 close signal for stdin
}

var wsProtos = []wsProto{
	{name: ""},
	{name: "channel.k8s.io"},
	{name: "base64.channel.k8s.io", base64: true},
	{name: "v4.channel.k8s.io", statusJSON: true},
	{name: "v4.base64.channel.k8s.io", base64: true, statusJSON: true},
	{name: "v5.channel.k8s.io", statusJSON: true, closeSig: true},
}

func (p wsProto) label() string {
	if p.name == "" {
		return "none"
	}
	return p.name
}

// wsScript is one scripted session: the exec request, what the client
// sends, and the expected outcome on each channel.
type wsScript struct {
	name      string
	command   []string
	stdin     string // sent on channel 0 after the first server message
	useStdin  bool
	stderr    bool
	exitCode  int // 0: success expected
	wantOut   string
	wantErr   string
	needClose bool // command needs stdin EOF (only with a close signal)
}

var wsScripts = []wsScript{
	{name: "output-and-exit-3", command: []string{"sh", "-c", "printf out; printf err >&2; exit 3"}, stderr: true, exitCode: 3, wantOut: "out", wantErr: "err"},
	{name: "success", command: []string{"true"}, stderr: true},
	{name: "stdin-fixed-length", command: []string{"head", "-c", "5"}, useStdin: true, stdin: "hello", wantOut: "hello"},
	{name: "stdin-close-signal", command: []string{"cat"}, useStdin: true, stdin: "hello", wantOut: "hello", needClose: true},
}

// transcript is what a raw client saw in one session, normalised so two
// servers can be compared: payloads joined per channel, the error channel
// parsed, the frames' type and the first message recorded.
type transcript struct {
	Negotiated   string
	FirstMessage string // as received, e.g. "\x01" or "1"
	AllText      bool   // every data frame was a text frame
	AllBinary    bool
	Out, Err     string
	ErrChan      string // raw error channel bytes
	Status       *statusDoc
	CloseCode    int
}

type statusDoc struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Details *struct {
		Causes []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"causes"`
	} `json:"details"`
}

// normalized drops what legitimately differs between servers: the error
// text of legacy protocols (runtime-specific wording) and Status messages.
func (tr transcript) normalized() transcript {
	n := tr
	if tr.Status != nil {
		n.ErrChan = ""
	} else if tr.ErrChan != "" {
		n.ErrChan = "<text>"
	}
	return n
}

// dialer dials raw WebSocket sessions at one server.
type dialer struct {
	name string
	url  func(t *testing.T, s wsScript) string
	d    *websocket.Dialer
	hdr  http.Header
}

// portholeDialer reaches porthole's API-server path with its credentials.
func portholeDialer(t *testing.T) *dialer {
	t.Helper()
	cfg := env.Server.Config
	tlsCfg, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{}
	if cfg.BearerToken != "" {
		hdr.Set("Authorization", "Bearer "+cfg.BearerToken)
	}
	return &dialer{
		name: "porthole",
		d:    &websocket.Dialer{TLSClientConfig: tlsCfg, HandshakeTimeout: 30 * time.Second},
		hdr:  hdr,
		url: func(t *testing.T, s wsScript) string {
			u := streamURL(t, "exec", harness.PodExec, "", s.useStdin, true, s.stderr, false, s.command...)
			return wsURL(u)
		},
	}
}

// crirefDialer reaches the kubelet's cri-streaming server (legacy
// protocols, at a one-time URL) or, for v5, its kubelet front.
func crirefDialer(ref *criref.Server, p wsProto) *dialer {
	return &dialer{
		name: "criref",
		d:    &websocket.Dialer{HandshakeTimeout: 30 * time.Second},
		url: func(t *testing.T, s wsScript) string {
			if p.closeSig {
				u, _ := url.Parse(ref.URL())
				u.Path = "/exec/default/exec/main"
				q := url.Values{"command": s.command, "output": {"1"}}
				if s.useStdin {
					q.Set("input", "1")
				}
				if s.stderr {
					q.Set("error", "1")
				}
				u.RawQuery = q.Encode()
				return wsURL(u)
			}
			raw, err := ref.ExecURL(&runtimeapi.ExecRequest{ContainerId: "default/exec/main", Cmd: s.command, Stdin: s.useStdin, Stdout: true, Stderr: s.stderr})
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			return wsURL(u)
		},
	}
}

func wsURL(u *url.URL) string {
	c := *u
	c.Scheme = strings.Replace(strings.Replace(c.Scheme, "https", "wss", 1), "http", "ws", 1)
	return c.String()
}

// run plays script s over protocol p and returns the transcript.
func (dl *dialer) run(t *testing.T, p wsProto, s wsScript) transcript {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d := *dl.d
	if p.name != "" {
		d.Subprotocols = []string{p.name}
	}
	conn, resp, err := d.DialContext(ctx, dl.url(t, s), dl.hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial with %q: %v (status %d)", dl.name, p.label(), err, status)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	tr := transcript{Negotiated: conn.Subprotocol(), AllText: true, AllBinary: true}
	var out, errOut, errChan bytes.Buffer
	first := true
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				tr.CloseCode = ce.Code
			} else {
				t.Errorf("%s: session ended without a close frame: %v", dl.name, err)
			}
			break
		}
		tr.AllText = tr.AllText && typ == websocket.TextMessage
		tr.AllBinary = tr.AllBinary && typ == websocket.BinaryMessage
		ch, payload, err := decodeMessage(p, typ, msg)
		if err != nil {
			t.Fatalf("%s: %v", dl.name, err)
		}
		if first {
			tr.FirstMessage = string(msg)
			first = false
			if s.useStdin {
				dl.sendStdin(t, conn, p, s)
			}
		}
		switch ch {
		case 1:
			out.Write(payload)
		case 2:
			errOut.Write(payload)
		case 3:
			errChan.Write(payload)
		default:
			t.Errorf("%s: message on channel %d: %q", dl.name, ch, payload)
		}
	}
	tr.Out, tr.Err, tr.ErrChan = out.String(), errOut.String(), errChan.String()
	if p.statusJSON && tr.ErrChan != "" {
		var st statusDoc
		if err := json.Unmarshal(errChan.Bytes(), &st); err != nil {
			t.Errorf("%s: error channel %q: not Status JSON: %v", dl.name, tr.ErrChan, err)
		}
		tr.Status = &st
	}
	return tr
}

// sendStdin writes the script's stdin as one message, then (v5) the close
// signal [0xFF 0x00].
func (dl *dialer) sendStdin(t *testing.T, conn *websocket.Conn, p wsProto, s wsScript) {
	t.Helper()
	var err error
	if p.base64 {
		err = conn.WriteMessage(websocket.TextMessage, []byte("0"+base64.StdEncoding.EncodeToString([]byte(s.stdin))))
	} else {
		err = conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, s.stdin...))
	}
	if err == nil && p.closeSig {
		err = conn.WriteMessage(websocket.BinaryMessage, []byte{0xFF, 0x00})
	}
	if err != nil {
		t.Fatalf("%s: send stdin: %v", dl.name, err)
	}
}

func decodeMessage(p wsProto, typ int, msg []byte) (byte, []byte, error) {
	if len(msg) == 0 {
		return 0, nil, errors.New("zero-length message (no channel byte)")
	}
	if !p.base64 {
		return msg[0], msg[1:], nil
	}
	if typ != websocket.TextMessage {
		return 0, nil, fmt.Errorf("binary frame %q on base64 protocol", msg)
	}
	payload, err := base64.StdEncoding.DecodeString(string(msg[1:]))
	if err != nil {
		return 0, nil, fmt.Errorf("message %q: bad base64: %w", msg, err)
	}
	return msg[0] - '0', payload, nil
}

// check asserts the wire facts of PROTOCOL.md 3.3-3.10 on one transcript.
func check(t *testing.T, who string, p wsProto, s wsScript, tr transcript) {
	t.Helper()
	if tr.Negotiated != p.name {
		t.Errorf("%s: negotiated %q, want %q", who, tr.Negotiated, p.name)
	}
	wantFirst := "\x01"
	if p.base64 {
		wantFirst = "1"
	}
	if tr.FirstMessage != wantFirst {
		t.Errorf("%s: first message %q, want %q (empty stdout)", who, tr.FirstMessage, wantFirst)
	}
	if p.base64 && !tr.AllText {
		t.Errorf("%s: base64 protocol sent binary frames", who)
	}
	if !p.base64 && !tr.AllBinary {
		t.Errorf("%s: binary protocol sent text frames", who)
	}
	if tr.Out != s.wantOut || tr.Err != s.wantErr {
		t.Errorf("%s: stdout %q stderr %q, want %q %q", who, tr.Out, tr.Err, s.wantOut, s.wantErr)
	}
	switch {
	case p.statusJSON && s.exitCode == 0:
		if tr.Status == nil || tr.Status.Status != "Success" {
			t.Errorf("%s: error channel %q, want Status Success", who, tr.ErrChan)
		}
	case p.statusJSON:
		want := fmt.Sprint(s.exitCode)
		st := tr.Status
		if st == nil || st.Status != "Failure" || st.Reason != "NonZeroExitCode" || st.Details == nil ||
			len(st.Details.Causes) == 0 || st.Details.Causes[0].Reason != "ExitCode" || st.Details.Causes[0].Message != want {
			t.Errorf("%s: error channel %q, want Failure NonZeroExitCode with cause ExitCode %s", who, tr.ErrChan, want)
		}
	case s.exitCode == 0:
		if tr.ErrChan != "" {
			t.Errorf("%s: error channel %q, want nothing on success", who, tr.ErrChan)
		}
	default:
		if tr.ErrChan == "" || strings.HasPrefix(tr.ErrChan, "{") {
			t.Errorf("%s: error channel %q, want a plain-text failure", who, tr.ErrChan)
		}
	}
	if tr.CloseCode != websocket.CloseNormalClosure {
		t.Errorf("%s: close code %d, want 1000", who, tr.CloseCode)
	}
}

// TestWebSocketProtocols plays each script over each WebSocket subprotocol
// against porthole, checks the wire facts, and plays the same script
// against the kubelet's cri-streaming server (criref) to compare the
// normalised transcripts.
func TestWebSocketProtocols(t *testing.T) {
	ref, err := criref.Start(t.Context(), nil)
	if err != nil {
		t.Fatalf("start criref: %v", err)
	}
	defer ref.Close()
	ph := portholeDialer(t)
	for _, p := range wsProtos {
		t.Run(p.label(), func(t *testing.T) {
			rd := crirefDialer(ref, p)
			for _, s := range wsScripts {
				if s.needClose && !p.closeSig {
					continue
				}
				t.Run(s.name, func(t *testing.T) {
					got := ph.run(t, p, s)
					check(t, "porthole", p, s, got)
					want := rd.run(t, p, s)
					check(t, "criref (reference)", p, s, want)
					if g, w := got.normalized(), want.normalized(); !reflect.DeepEqual(g, w) {
						gj, _ := json.Marshal(g)
						wj, _ := json.Marshal(w)
						t.Errorf("transcripts differ:\nporthole: %s\ncriref:   %s", gj, wj)
					}
				})
			}
		})
	}
}

package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/stream"
	"github.com/porthole/porthole/transport/spdy"
	"github.com/porthole/porthole/transport/websocket"
)

// TestKubeletPaths serves exec on the kubelet's path and parameters, over
// both wires, with the exit code carried as on the API-server path.
func TestKubeletPaths(t *testing.T) {
	base := startNode(t)
	q := url.Values{"command": {"sh", "-c", "printf out; printf err >&2; exit 3"}, "output": {"1"}, "error": {"1"}}
	u := base + "/exec/default/two/b?" + q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Run("spdy", func(t *testing.T) {
		conn, _, err := spdy.Dial(ctx, u, &spdy.DialOptions{Protocols: protocol.SPDYClientOffer})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		open := func(typ string) stream.Stream {
			s, err := conn.Open(ctx, http.Header{"Streamtype": {typ}})
			if err != nil {
				t.Fatalf("open %s: %v", typ, err)
			}
			return s
		}
		errs := streamtest.ReadAll(open("error"))
		out, errOut := streamtest.ReadAll(open("stdout")), streamtest.ReadAll(open("stderr"))
		if o, e, s := string(<-out), string(<-errOut), string(<-errs); o != "out" || e != "err" || s != string(status.NewExit(3).Marshal()) {
			t.Errorf("got %q %q %s", o, e, s)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		conn, _, err := websocket.Dial(ctx, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		o, e, s := streamtest.ReadAll(conn.Channel(channel.Stdout)), streamtest.ReadAll(conn.Channel(channel.Stderr)), streamtest.ReadAll(conn.Channel(channel.Error))
		if o, e, s := string(<-o), string(<-e), string(<-s); o != "out" || e != "err" || s != string(status.NewExit(3).Marshal()) {
			t.Errorf("got %q %q %s", o, e, s)
		}
	})
}

func TestKubeletPathRefusals(t *testing.T) {
	base := startNode(t)
	for _, tc := range []struct {
		name, path string
		code       int
	}{
		// "true" is not "1" for the kubelet: no stream requested.
		{"flags need 1", "/exec/default/p/c?command=true&output=true", 400},
		{"unknown container", "/exec/default/p/nope?command=true&output=1", 400},
		{"unknown pod", "/exec/default/nope/c?command=true&output=1", 404},
		{"wrong uid", "/exec/default/p/not-the-uid/c?command=true&output=1", 404},
		{"not an upgrade", "/exec/default/p/c?command=true&output=1", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", base+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.code {
				var st status.Status
				json.NewDecoder(resp.Body).Decode(&st)
				t.Errorf("got %d (%s), want %d", resp.StatusCode, st.Message, tc.code)
			}
		})
	}
}

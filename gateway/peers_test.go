package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/audit"
	"github.com/porthole/porthole/client"
	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/freezer"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol"
)

const peerToken = "0123456789abcdef0123456789abcdef-replicas"

// replicaPair serves two gateway replicas, a and b, in front of one node,
// each naming the other as its peer, with resume on for grace; it returns
// their URLs and audit logs.
func replicaPair(t *testing.T, wire protocol.Wire, grace time.Duration) (urls [2]string, logs [2]*auditLog) {
	t.Helper()
	node, err := url.Parse(streamtest.StartNode(t, []*kube.Pod{streamtest.SleepPod("p")}, nil).URL)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := gateway.ParseTokens(strings.NewReader(resumeTokens))
	if err != nil {
		t.Fatal(err)
	}
	names := [2]string{"a", "b"}
	var lns [2]net.Listener
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		urls[i] = "http://" + lns[i].Addr().String()
	}
	for i := range lns {
		peer, _ := url.Parse(urls[1-i])
		logs[i] = &auditLog{}
		g, err := gateway.New(&gateway.Options{Upstream: node, UpstreamWire: wire, Tokens: tokens, SessionResumeGrace: grace, Audit: logs[i],
			Replicas: &gateway.PeerOptions{Name: names[i], Peers: map[string]*url.URL{names[1-i]: peer}, Token: peerToken}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(g)
		srv.Listener.Close()
		srv.Listener = lns[i]
		srv.Start()
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Shutdown(ctx); err != nil {
				t.Errorf("gateway %s shutdown: %v", names[i], err)
			}
			srv.Close()
		})
	}
	return urls, logs
}

// switchThenCut points the relay at another replica, then cuts, once more
// than n bytes were written: the client's reconnection lands on the
// replica that does not hold its session.
type switchThenCut struct {
	w      *bytes.Buffer
	n      int
	relay  *freezer.Relay
	target string
	done   bool
}

func (c *switchThenCut) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if !c.done && c.w.Len() > c.n {
		c.done = true
		c.relay.SetTarget(c.target)
		c.relay.Cut(300 * time.Millisecond)
	}
	return n, err
}

// TestResumeOnAnotherReplica: a session held by replica a is cut; the
// client's reconnection reaches replica b, which passes it to a as the
// same user; every byte arrives once and the exit code is exact, on both
// upstream wires.
func TestResumeOnAnotherReplica(t *testing.T) {
	data := make([]byte, 16<<20)
	rand.Read(data)
	for _, wire := range []protocol.Wire{protocol.WebSocket, protocol.SPDY} {
		t.Run(string(wire), func(t *testing.T) {
			urls, logs := replicaPair(t, wire, time.Minute)
			ua, _ := url.Parse(urls[0])
			ub, _ := url.Parse(urls[1])
			relay := freezer.New(t, ua.Host)
			c := tokenClient(t, "http://"+relay.Addr(), "alice-token")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var got bytes.Buffer
			var ns notices
			err := c.Exec(ctx, &client.ExecOptions{Pod: "p", Container: "c", Command: []string{"sh", "-c", "cat; exit 5"},
				StreamOptions: client.StreamOptions{Stdin: bytes.NewReader(data),
					Stdout: &switchThenCut{w: &got, n: 4 << 20, relay: relay, target: ub.Host},
					Resume: &client.ResumeOptions{Notify: ns.add}}})
			var exit *client.ExitError
			if !errors.As(err, &exit) || exit.Code != 5 {
				t.Fatalf("exec: %v, want exit code 5 (notices %q)", err, ns.String())
			}
			if ns.String() != "connection lost, resuming session...|resumed" {
				t.Fatalf("notices %q", ns.String())
			}
			if sum, want := sha256.Sum256(got.Bytes()), sha256.Sum256(data); got.Len() != len(data) || sum != want {
				t.Fatalf("got %d bytes, want the %d sent, byte for byte", got.Len(), len(data))
			}
			// a held it and audited the resume; b only passed it on.
			ev := logs[0].find(func(ev audit.Event) bool { return ev.Stage == audit.StageResume })
			if ev == nil || ev.User != "alice" {
				t.Fatalf("replica a's resume record: %+v", ev)
			}
			if ev := logs[1].find(func(ev audit.Event) bool { return ev.Stage == audit.StageResume }); ev != nil {
				t.Fatalf("replica b recorded a resume of a session it does not hold: %+v", ev)
			}
		})
	}
}

// TestPeerIdentity: the peer headers are believed only with the replicas'
// secret: a client's own copy is dropped (it stays who its token says), a
// wrong secret is refused, and another user's resume passed on by b is
// refused by a.
func TestPeerIdentity(t *testing.T) {
	// The raw connection below is parked when it closes: a short grace.
	urls, logs := replicaPair(t, protocol.WebSocket, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := execURL(urls[0], []string{"sleep", "30"}, "stdout")

	h := http.Header{gateway.HeaderPeerUser: {"bob"}, gateway.HeaderPeerGroup: {"system:masters"}}
	conn, resp, err := dialResumable(t, ctx, u, "alice-token", h)
	if err != nil {
		t.Fatalf("alice with peer headers: %v", err)
	}
	defer conn.Close()
	id := resp.Header.Get(protocol.HeaderSession)
	if len(id) != 34 || !strings.HasSuffix(id, ".a") {
		t.Errorf("session id %q, want 32 hex digits and replica a's name", id)
	}
	// bob, through b, is refused by a, which holds alice's session.
	ub := execURL(urls[1], []string{"sleep", "30"}, "stdout")
	_, resp, err = dialResumable(t, ctx, ub, "bob-token", http.Header{protocol.HeaderResume: {id}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("bob resuming alice's session through b: %v (%v), want 403", err, resp)
	}
	if ev := logs[0].find(func(ev audit.Event) bool { return ev.User == "bob" && ev.Code == http.StatusForbidden }); ev == nil {
		t.Errorf("replica a did not audit bob's refused resume")
	}
	if ev := logs[0].find(func(ev audit.Event) bool { return ev.Stage == audit.StageStart }); ev == nil || ev.User != "alice" {
		t.Fatalf("start record %+v, want alice's", ev)
	}

	for _, auth := range []string{"Bearer wrong-secret-wrong-secret-wrong-secret", "Bearer " + peerToken + "x", peerToken} {
		h := http.Header{gateway.HeaderPeerAuthorization: {auth}, gateway.HeaderPeerUser: {"alice"}}
		_, resp, err := dialResumable(t, ctx, u, "", h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("peer authorization %q: %v (status %v), want 401", auth, err, resp)
		}
	}
}

// TestPeerOptionsValidated: bad replica settings are refused by New.
func TestPeerOptionsValidated(t *testing.T) {
	up, _ := url.Parse("http://127.0.0.1:1")
	peer, _ := url.Parse("https://gw-1.gw:8443")
	for _, tc := range []struct {
		o    gateway.PeerOptions
		want string
	}{
		{gateway.PeerOptions{Name: "Gw_0", Token: peerToken}, "replica name"},
		{gateway.PeerOptions{Name: "gw-0", Token: "short"}, "at least 32 bytes"},
		{gateway.PeerOptions{Name: "gw-0", Token: peerToken, Peers: map[string]*url.URL{"gw.1": peer}}, "peer name"},
	} {
		if _, err := gateway.New(&gateway.Options{Upstream: up, Replicas: &tc.o}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error containing %q", tc.o, err, tc.want)
		}
	}
}

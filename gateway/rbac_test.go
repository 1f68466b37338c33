package gateway

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/porthole/porthole/internal/streamtest/wiretest"
	"github.com/porthole/porthole/protocol"
)

func TestRBACRules(t *testing.T) {
	a := NewRBAC()
	err := a.Load(strings.NewReader(`apiVersion: rbac.authorization.k8s.io/v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: r, namespace: dev}
  rules:
  - {apiGroups: [""], resources: ["*/exec"], verbs: [create, get], resourceNames: [web]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: b, namespace: dev}
  subjects: [{kind: ServiceAccount, name: robot}]
  roleRef: {kind: Role, name: r}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: pods}
  rules: [{apiGroups: [""], resources: [pods], verbs: ["*"]}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: c, namespace: dev}
  subjects: [{kind: Group, name: g}]
  roleRef: {kind: ClusterRole, name: pods}
`))
	if err != nil {
		t.Fatal(err)
	}
	robot := &User{Name: "system:serviceaccount:dev:robot"}
	grp := &User{Name: "x", Groups: []string{"g"}}
	for _, tc := range []struct {
		name string
		at   Attributes
		want bool
	}{
		{"sa exec web", Attributes{User: robot, Verb: "create", Namespace: "dev", Resource: "pods", Subresource: "exec", Name: "web"}, true},
		{"sa exec other pod", Attributes{User: robot, Verb: "create", Namespace: "dev", Resource: "pods", Subresource: "exec", Name: "db"}, false},
		{"sa exec other ns", Attributes{User: robot, Verb: "create", Namespace: "prod", Resource: "pods", Subresource: "exec", Name: "web"}, false},
		{"sa attach", Attributes{User: robot, Verb: "create", Namespace: "dev", Resource: "pods", Subresource: "attach", Name: "web"}, false},
		{"group get pods", Attributes{User: grp, Verb: "get", Namespace: "dev", Resource: "pods", Name: "web"}, true},
		{"pods does not cover pods/exec", Attributes{User: grp, Verb: "create", Namespace: "dev", Resource: "pods", Subresource: "exec", Name: "web"}, false},
		{"cluster-wide list denied", Attributes{User: grp, Verb: "list", Resource: "pods"}, false},
	} {
		got, err := a.Authorize(context.Background(), tc.at)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestRBACRejectsUnknownKinds(t *testing.T) {
	for _, doc := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: Secret\nmetadata: {name: s}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {kind: Role, name: r}\n",
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n",
	} {
		if err := NewRBAC().Load(strings.NewReader(doc)); err == nil {
			t.Errorf("loaded %q", doc)
		}
	}
}

func FuzzRBACLoad(f *testing.F) {
	f.Add("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: [{apiGroups: [''], resources: [pods/exec], verbs: [create]}]\n")
	f.Add("kind: List\nitems: [{kind: List}]\n")
	f.Fuzz(func(t *testing.T, doc string) {
		a := NewRBAC()
		if a.Load(strings.NewReader(doc)) == nil {
			a.Authorize(context.Background(), Attributes{User: &User{Name: "u"}, Verb: "create", Namespace: "default", Resource: "pods", Subresource: "exec"})
		}
	})
}

func TestParseTokens(t *testing.T) {
	tf, err := ParseTokens(strings.NewReader("t1,alice,1,\"a,b\"\n\n# comment\nt2,bob,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	u, ok, _ := tf.AuthenticateToken(context.Background(), "t1")
	if !ok || u.Name != "alice" || strings.Join(u.Groups, "|") != "a|b" {
		t.Errorf("t1: %+v %v", u, ok)
	}
	if _, ok, _ := tf.AuthenticateToken(context.Background(), "t3"); ok {
		t.Error("unknown token accepted")
	}
	for _, bad := range []string{"t1,alice\n", "t1,alice,1\nt1,bob,2\n", ",alice,1\n", "\"t1,alice,1\n"} {
		if _, err := ParseTokens(strings.NewReader(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func FuzzParseTokens(f *testing.F) {
	f.Add("t1,alice,1,\"a,b\"\n")
	f.Add("\"t1,alice\n")
	f.Fuzz(func(t *testing.T, s string) {
		tf, err := ParseTokens(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, e := range tf.entries {
			u, ok, _ := tf.AuthenticateToken(context.Background(), e.token)
			if !ok || u.Name == "" {
				t.Fatalf("entry %q not found", e.token)
			}
		}
	})
}

func TestParseFeatureGates(t *testing.T) {
	got, err := ParseFeatureGates("TranslateStreamCloseWebsocketRequests=false, PortForwardWebsockets=true")
	if err != nil || got[GateTranslateStreamClose] || !got[GatePortForwardWebsockets] {
		t.Fatalf("got %v %v", got, err)
	}
	for _, bad := range []string{"Nope=true", "PortForwardWebsockets", "PortForwardWebsockets=maybe"} {
		if _, err := ParseFeatureGates(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func FuzzParseFeatureGates(f *testing.F) {
	f.Add("TranslateStreamCloseWebsocketRequests=false,PortForwardWebsockets=true")
	f.Fuzz(func(t *testing.T, s string) {
		if m, err := ParseFeatureGates(s); err == nil {
			if _, err := resolveGates(m); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestFrameInspectors: exact limits on WebSocket and SPDY frame lengths
// and the resize rate, whatever way the bytes are split.
func TestFrameInspectors(t *testing.T) {
	mask := []byte{1, 2, 3, 4}
	frame := func(op byte, payload []byte) []byte { return wiretest.WSFrame(true, op, payload, mask) }
	feedSplit := func(f func([]byte) error, b []byte) error {
		for i := range b {
			if err := f(b[i : i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	ok := newWSInspect(1000, 2, false, nil)
	if err := feedSplit(ok.feed, append(frame(2, make([]byte, 1000)), frame(2, []byte{0, 'x'})...)); err != nil {
		t.Errorf("frames within the limit: %v", err)
	}
	big := newWSInspect(1000, 2, false, nil)
	if err := big.feed(frame(2, make([]byte, 1001))); err == nil {
		t.Error("1001-byte frame passed a 1000-byte limit")
	}
	flood := newWSInspect(1000, 2, false, nil)
	var msgs []byte
	for range 3 {
		msgs = append(msgs, frame(2, []byte("\x04{\"Width\":1,\"Height\":1}"))...)
	}
	if err := flood.feed(msgs); err == nil {
		t.Error("three resizes passed a limit of two per second")
	}
	sp := newSPDYInspect(100, nil, nil)
	hdr := func(n int) []byte { return []byte{0, 0, 0, 1, 0, byte(n >> 16), byte(n >> 8), byte(n)} }
	if err := feedSplit(sp.feed, append(append(hdr(100), make([]byte, 100)...), hdr(0)...)); err != nil {
		t.Errorf("spdy within limit: %v", err)
	}
	if err := sp.feed(hdr(101)); err == nil {
		t.Error("101-byte spdy frame passed")
	}
}

func FuzzInspectors(f *testing.F) {
	f.Add([]byte{0x82, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x82, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids := &spdyStreamIDs{}
		ids.stdoutID.Store(3)
		newWSInspect(1<<20, 10, false, func([]byte) {}).feed(b)
		newSPDYInspect(1<<20, func([]byte) {}, ids).feed(b)
		newWSOutput(io.Discard).feed(b)
		newSPDYOutput(io.Discard, ids).feed(b)
	})
}

// TestPeerUser: what a replica says of a user (peerHeader) is the user the
// other replica serves (peerUser): its groups with system:authenticated
// back for all but an anonymous caller, and who impersonates it.
func TestPeerUser(t *testing.T) {
	g := &Gateway{opts: Options{PeerToken: "secret"}}
	for _, u := range []*User{
		{Name: "alice", Groups: []string{"devs", GroupAuthenticated}},
		{Name: "bob", Groups: []string{GroupAuthenticated}, ImpersonatedBy: "carol"},
		{Name: Anonymous, Groups: []string{GroupUnauthenticated}},
	} {
		r := httptest.NewRequest("GET", protocol.SessionsPath+"/sessions", nil)
		r.Header.Set("X-Porthole-Peer-Impersonated-By", "forged")
		g.peerHeader(r.Header, u)
		got, ok, herr := g.peerUser(r)
		if !ok || herr != nil || got.Name != u.Name || !slices.Equal(got.Groups, u.Groups) || got.ImpersonatedBy != u.ImpersonatedBy {
			t.Errorf("%+v came back as %+v (%v %v)", u, got, ok, herr)
		}
	}
}

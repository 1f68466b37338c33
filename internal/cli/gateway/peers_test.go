package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/gateway"
)

// TestApplyPeers: --replica-name, --peers and --peer-token-file become the
// gateway's replica options, and every inconsistent set is refused.
func TestApplyPeers(t *testing.T) {
	dir := t.TempDir()
	good, short := filepath.Join(dir, "good"), filepath.Join(dir, "short")
	if err := os.WriteFile(good, []byte("0123456789abcdef-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peers := map[string]string{"gw-0": "https://gw-0.gw:8001", "gw-1": "https://gw-1.gw:8001"}
	for _, tc := range []struct {
		name    string
		s       Security
		wantErr string
	}{
		{"ok", Security{ReplicaName: "gw-0", Peers: peers, PeerTokenFile: good}, ""},
		{"no peers", Security{ReplicaName: "gw-0"}, ""},
		{"no token", Security{ReplicaName: "gw-0", Peers: peers}, "--peers needs --replica-name and --peer-token-file"},
		{"no name", Security{Peers: peers, PeerTokenFile: good}, "--peers needs --replica-name and --peer-token-file"},
		{"short token", Security{ReplicaName: "gw-0", Peers: peers, PeerTokenFile: short}, "at least 16 characters"},
		{"bad url", Security{ReplicaName: "gw-0", Peers: map[string]string{"gw-1": "gw-1:8001"}, PeerTokenFile: good}, "want an http or https URL"},
		{"missing ca", Security{ReplicaName: "gw-0", Peers: peers, PeerTokenFile: good, PeerCAFile: filepath.Join(dir, "nope")}, "--peer-ca-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o gateway.Options
			err := tc.s.applyPeers(&o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.ReplicaName != tc.s.ReplicaName || len(o.Peers) != len(tc.s.Peers) {
				t.Fatalf("options %+v", o)
			}
			if len(tc.s.Peers) > 0 && (o.PeerToken != "0123456789abcdef-secret" || o.Peers["gw-1"].Host != "gw-1.gw:8001") {
				t.Fatalf("token %q peers %v", o.PeerToken, o.Peers)
			}
		})
	}
}

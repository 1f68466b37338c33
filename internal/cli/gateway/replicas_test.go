package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplicasFlags(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	if err := os.WriteFile(good, []byte(strings.Repeat("s", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		r    Replicas
		err  string // "" for none
		none bool   // no replica options at all
	}{
		{name: "off", none: true},
		{name: "two peers", r: Replicas{Name: "gw-0", Peers: "gw-1=https://gw-1.gw.ns.svc:8443, gw-2=https://gw-2.gw.ns.svc:8443", TokenFile: good}},
		{name: "no token file", r: Replicas{Name: "gw-0", Peers: "gw-1=https://h:1"}, err: "--peers needs --replica-name and --peer-token-file"},
		{name: "no name", r: Replicas{Peers: "gw-1=https://h:1", TokenFile: good}, err: "--peers needs --replica-name"},
		{name: "bad entry", r: Replicas{Name: "gw-0", Peers: "gw-1", TokenFile: good}, err: `peer "gw-1": want name=URL`},
		{name: "bad url", r: Replicas{Name: "gw-0", Peers: "gw-1=ftp://h", TokenFile: good}, err: "want an http or https URL"},
		{name: "missing token file", r: Replicas{Name: "gw-0", Peers: "gw-1=https://h:1", TokenFile: filepath.Join(dir, "nope")}, err: "--peer-token-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := tc.r.options()
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one containing %q", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case tc.none != (o == nil):
				t.Fatalf("options %+v", o)
			case o != nil && (len(o.Peers) != 2 || o.Peers["gw-2"].Host != "gw-2.gw.ns.svc:8443" || o.Token != strings.Repeat("s", 40)):
				t.Fatalf("options %+v", o)
			}
		})
	}
}

package serve

import (
	"context"
	"io"
	"testing"

	"github.com/porthole/porthole/internal/cli"
)

// TestSecurityFlags: porthole serve takes porthole gateway's security flags.
func TestSecurityFlags(t *testing.T) {
	f, _, _, _ := testFactory(t)
	var got *Options
	cmd := NewCmd(f, func(_ context.Context, o *Options) error { got = o; return nil })
	cli.AddGlobalFlags(cmd.PersistentFlags())
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--token-auth-file", "t.csv", "--rbac-file", "r.yaml", "--audit-log-path", "a.jsonl",
		"--tls-cert-file", "c", "--tls-private-key-file", "k", "--listen", "0.0.0.0:8443",
		"--accept-hosts", "dev.example,*.dev.example", "--max-sessions", "3",
		"--session-join", "--moderated-namespace", "prod", "--moderated-namespace", "payments"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	s := got.Security
	if len(s.AcceptHosts) != 2 || s.AcceptHosts[1] != "*.dev.example" || s.MaxSessions != 3 || s.TokenAuthFile != "t.csv" || len(s.RBACFiles) != 1 || s.AuditLogPath != "a.jsonl" || s.TLSKeyFile != "k" || got.Listen != "0.0.0.0:8443" ||
		!s.SessionJoin || len(s.ModeratedNS) != 2 || s.ModeratedNS[1] != "payments" {
		t.Errorf("got %+v", got)
	}
}

package selfcert

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var loopback = []string{"localhost", "127.0.0.1", "::1"}

// verify checks that b's serving certificate is trusted for host by a
// client that knows only b's authority, as a kubeconfig's
// certificate-authority-data makes it.
func verify(t *testing.T, b *Bundle, host string, now time.Time) error {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b.CAPEM) {
		t.Fatal("CA PEM does not parse")
	}
	leaf, err := x509.ParseCertificate(b.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, CurrentTime: now})
	return err
}

func TestEnsure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	now := time.Now()
	first, err := Ensure(dir, loopback, now)
	if err != nil {
		t.Fatal(err)
	}
	if first.Made == "" {
		t.Error("first run: Made is empty")
	}
	for _, h := range loopback {
		if err := verify(t, first, h, time.Now()); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	if err := verify(t, first, "attacker.example", time.Now()); err == nil {
		t.Error("certificate valid for a host it was not made for")
	}
	for name, want := range map[string]os.FileMode{caKeyFile: 0o600, KeyFile: 0o600, CAFile: 0o644, "": 0o700} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%q: mode %v, want %v", name, st.Mode().Perm(), want)
		}
	}

	tests := []struct {
		name     string
		hosts    []string
		now      time.Time
		sameCA   bool
		sameCert bool
	}{
		{"restart", loopback, now.Add(time.Minute), true, true},
		{"new host", append(loopback, "dev.example"), now, true, false},
		{"serving cert near its end", loopback, now.Add(certLifetime - renewBefore + time.Hour), true, false},
		{"authority near its end", loopback, now.Add(caLifetime - renewBefore + time.Hour), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			base, err := Ensure(d, loopback, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Ensure(d, tc.hosts, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if same := bytes.Equal(got.CAPEM, base.CAPEM); same != tc.sameCA {
				t.Errorf("same CA: %v, want %v", same, tc.sameCA)
			}
			if same := bytes.Equal(got.Certificate.Certificate[0], base.Certificate.Certificate[0]); same != tc.sameCert {
				t.Errorf("same serving certificate: %v, want %v", same, tc.sameCert)
			}
			if (got.Made == "") != tc.sameCert {
				t.Errorf("Made %q with sameCert %v", got.Made, tc.sameCert)
			}
			for _, h := range tc.hosts {
				if err := verify(t, got, h, tc.now); err != nil {
					t.Errorf("%s: %v", h, err)
				}
			}
		})
	}
}

// TestEnsureReplacesDamage: a truncated key or a serving certificate from
// another authority is replaced, not served.
func TestEnsureReplacesDamage(t *testing.T) {
	d := t.TempDir()
	if _, err := Ensure(d, loopback, time.Now()); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := Ensure(other, loopback, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CertFile, KeyFile} {
		b, err := os.ReadFile(filepath.Join(other, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Ensure(d, loopback, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(t, got, "127.0.0.1", time.Now()); err != nil {
		t.Errorf("a serving certificate of another authority was kept: %v", err)
	}
	if err := os.WriteFile(filepath.Join(d, caKeyFile), []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got2, err := Ensure(d, loopback, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got2.CAPEM, got.CAPEM) || verify(t, got2, "localhost", time.Now()) != nil {
		t.Error("a damaged authority key was not replaced by a working authority")
	}
}

func TestEnsureToken(t *testing.T) {
	d := t.TempDir()
	tok, err := EnsureToken(d, "porthole", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	if !tok.Made || len(tok.Value) != 43 {
		t.Errorf("first token: %+v", tok)
	}
	data, err := os.ReadFile(tok.File)
	if err != nil {
		t.Fatal(err)
	}
	if want := tok.Value + `,porthole,porthole,"system:masters"` + "\n"; string(data) != want {
		t.Errorf("token file %q, want %q", data, want)
	}
	if st, _ := os.Stat(tok.File); st.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", st.Mode().Perm())
	}
	again, err := EnsureToken(d, "porthole", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Made || again.Value != tok.Value {
		t.Errorf("restart: %+v, want the same token, not made", again)
	}
	// A file the user edited is theirs: its first token is used as is.
	edited := "# mine\n\nabc,alice,1\nxyz,bob,2\n"
	if err := os.WriteFile(tok.File, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	mine, err := EnsureToken(d, "porthole", nil)
	if err != nil {
		t.Fatal(err)
	}
	if mine.Value != "abc" || mine.Made {
		t.Errorf("edited file: %+v, want token abc", mine)
	}
	if b, _ := os.ReadFile(tok.File); string(b) != edited {
		t.Error("the edited token file was rewritten")
	}
}

func TestHosts(t *testing.T) {
	name, _ := os.Hostname()
	for _, tc := range []struct {
		listen     string
		want, omit []string
	}{
		{"127.0.0.1:7443", []string{"localhost", "127.0.0.1", "::1", name}, nil},
		{"gw.example:8443", []string{"localhost", "gw.example", name}, nil},
		{"[::1]:0", []string{"::1"}, []string{""}},
		{":8443", []string{"localhost", name}, []string{"", "::", "0.0.0.0"}},
		{"0.0.0.0:8443", []string{"127.0.0.1"}, []string{"0.0.0.0"}},
		{"not an address", []string{"localhost"}, []string{"not an address"}},
	} {
		got := Hosts(tc.listen)
		for _, h := range tc.want {
			if h != "" && !slices.Contains(got, h) {
				t.Errorf("Hosts(%q) = %q, missing %q", tc.listen, got, h)
			}
		}
		for _, h := range tc.omit {
			if slices.Contains(got, h) {
				t.Errorf("Hosts(%q) = %q, has %q", tc.listen, got, h)
			}
		}
		seen := map[string]bool{}
		for _, h := range got {
			if seen[h] {
				t.Errorf("Hosts(%q) = %q: %q twice", tc.listen, got, h)
			}
			seen[h] = true
		}
	}
}

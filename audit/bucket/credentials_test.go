package bucket_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porthole/porthole/audit/bucket"
)

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name, in string
		want     bucket.Credentials
		err      string
	}{
		{"plain", "AWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=SK\n", bucket.Credentials{AccessKeyID: "AK", SecretAccessKey: "SK"}, ""},
		{"comments, export, quotes, token", "# from the secret\n\nexport AWS_ACCESS_KEY_ID=\"AK\"\r\nAWS_SECRET_ACCESS_KEY = 'S=K'\nAWS_SESSION_TOKEN=T",
			bucket.Credentials{AccessKeyID: "AK", SecretAccessKey: "S=K", SessionToken: "T"}, ""},
		{"missing secret", "AWS_ACCESS_KEY_ID=AK\n", bucket.Credentials{}, "both required"},
		{"empty", "", bucket.Credentials{}, "both required"},
		{"unknown key", "AWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=SK\nAWS_REGION=x\n", bucket.Credentials{}, `line 3: unknown key "AWS_REGION"`},
		{"twice", "AWS_ACCESS_KEY_ID=AK\nAWS_ACCESS_KEY_ID=AK2\n", bucket.Credentials{}, "line 2: AWS_ACCESS_KEY_ID given twice"},
		{"bare secret", "AWS_ACCESS_KEY_ID=AK\nsupersecret\n", bucket.Credentials{}, "line 2: want KEY=VALUE"},
		{"too large", strings.Repeat("#", 65<<10), bucket.Credentials{}, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := bucket.ParseCredentials([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "supersecret") {
					t.Errorf("the error shows the file's content: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestLoadCredentialsAndEnv(t *testing.T) {
	p := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(p, []byte("AWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=SK\n"), 0o600)
	if c, err := bucket.LoadCredentials(p); err != nil || c.AccessKeyID != "AK" || c.SecretAccessKey != "SK" {
		t.Errorf("load: %+v %v", c, err)
	}
	if _, err := bucket.LoadCredentials(p + ".missing"); err == nil || !strings.Contains(err.Error(), "recording credentials") {
		t.Errorf("missing file: %v", err)
	}
	env := map[string]string{"AWS_ACCESS_KEY_ID": "EA", "AWS_SECRET_ACCESS_KEY": "ES", "AWS_SESSION_TOKEN": "ET"}
	if c := bucket.FromEnv(func(k string) string { return env[k] }); c != (bucket.Credentials{AccessKeyID: "EA", SecretAccessKey: "ES", SessionToken: "ET"}) {
		t.Errorf("env: %+v", c)
	}
}

// FuzzParseCredentials: any input gives credentials with both keys or an
// error, never a panic, and values never carry a line break.
func FuzzParseCredentials(f *testing.F) {
	f.Add([]byte("AWS_ACCESS_KEY_ID=AK\nAWS_SECRET_ACCESS_KEY=SK\n"))
	f.Add([]byte("export AWS_ACCESS_KEY_ID='AK'\r\nAWS_SECRET_ACCESS_KEY=\"\"\n# c\n"))
	f.Add([]byte("AWS_SESSION_TOKEN==\n=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := bucket.ParseCredentials(b)
		if err != nil {
			return
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			t.Fatalf("accepted without both keys: %+v", c)
		}
		for _, v := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("value with a line break: %q", v)
			}
		}
	})
}

package bucket

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Credentials sign the requests to the bucket (AWS signature v4). They
// come from the environment or a file, never from flags, which other
// users of the machine can read in the process list.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

func (c Credentials) validate() error {
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return errors.New("recording bucket: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or name a credentials file")
	}
	return nil
}

// FromEnv reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN with getenv (os.Getenv).
func FromEnv(getenv func(string) string) Credentials {
	return Credentials{AccessKeyID: getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: getenv("AWS_SESSION_TOKEN")}
}

// maxCredentialsFile bounds a credentials file.
const maxCredentialsFile = 64 << 10

// LoadCredentials reads a credentials file (see ParseCredentials).
func LoadCredentials(path string) (Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Credentials{}, fmt.Errorf("recording credentials: %w", err)
	}
	c, err := ParseCredentials(b)
	if err != nil {
		return Credentials{}, fmt.Errorf("recording credentials %s: %w", path, err)
	}
	return c, nil
}

// ParseCredentials reads the environment-file form a Secret is easily
// written in: lines AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=... and
// optionally AWS_SESSION_TOKEN=...; blank lines and lines starting with #
// are skipped, an optional "export " and matching quotes around a value
// are allowed. Any other key, a repeated key or a missing one is an error.
func ParseCredentials(b []byte) (Credentials, error) {
	if len(b) > maxCredentialsFile {
		return Credentials{}, fmt.Errorf("larger than %d bytes", maxCredentialsFile)
	}
	var c Credentials
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxCredentialsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return Credentials{}, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
			val = val[1 : len(val)-1]
		}
		if seen[key] {
			return Credentials{}, fmt.Errorf("line %d: %s given twice", n, key)
		}
		seen[key] = true
		switch key {
		case "AWS_ACCESS_KEY_ID":
			c.AccessKeyID = val
		case "AWS_SECRET_ACCESS_KEY":
			c.SecretAccessKey = val
		case "AWS_SESSION_TOKEN":
			c.SessionToken = val
		default:
			return Credentials{}, fmt.Errorf("line %d: unknown key %q (want AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)", n, key)
		}
	}
	if err := sc.Err(); err != nil {
		return Credentials{}, err
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return Credentials{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are both required")
	}
	return c, nil
}

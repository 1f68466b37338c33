package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// TokenFile is a static token list in kube-apiserver's --token-auth-file
// format: CSV lines token,user,uid[,"group1,group2,..."]; blank lines and
// lines starting with # are skipped. It is immutable and safe for
// concurrent use.
type TokenFile struct {
	entries []tokenEntry
}

type tokenEntry struct {
	token string
	user  User
}

// LoadTokenFile reads path.
func LoadTokenFile(path string) (*TokenFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open token file: %w", err)
	}
	defer f.Close()
	tf, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return tf, nil
}

// ParseTokens reads the CSV token format from r.
func ParseTokens(r io.Reader) (*TokenFile, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	tf := &TokenFile{}
	seen := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse: %w", err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 3 {
			return nil, fmt.Errorf("line %d: want token,user,uid[,groups], got %d fields", line, len(rec))
		}
		e := tokenEntry{token: rec[0], user: User{Name: rec[1], UID: rec[2]}}
		if e.token == "" || e.user.Name == "" {
			return nil, fmt.Errorf("line %d: empty token or user", line)
		}
		if seen[e.token] {
			return nil, fmt.Errorf("line %d: duplicate token", line)
		}
		seen[e.token] = true
		if len(rec) > 3 {
			for _, grp := range strings.Split(rec[3], ",") {
				if grp = strings.TrimSpace(grp); grp != "" {
					e.user.Groups = append(e.user.Groups, grp)
				}
			}
		}
		tf.entries = append(tf.entries, e)
	}
	return tf, nil
}

// AuthenticateToken compares token with every entry in constant time.
func (tf *TokenFile) AuthenticateToken(_ context.Context, token string) (*User, bool, error) {
	var found *User
	for i := range tf.entries {
		if subtle.ConstantTimeCompare([]byte(tf.entries[i].token), []byte(token)) == 1 {
			found = &tf.entries[i].user
		}
	}
	if found == nil {
		return nil, false, nil
	}
	u := *found
	u.Groups = append([]string(nil), found.Groups...)
	return &u, true, nil
}

// TokenAuthenticators tries each authenticator in turn, as the API
// server's union does: the first that knows the token decides; when none
// does, their errors are joined. A JWT from another issuer or a static
// token is not an error for the authenticators that do not own it.
type TokenAuthenticators []TokenAuthenticator

// AuthenticateToken implements TokenAuthenticator.
func (ts TokenAuthenticators) AuthenticateToken(ctx context.Context, token string) (*User, bool, error) {
	var errs []error
	for _, t := range ts {
		u, ok, err := t.AuthenticateToken(ctx, token)
		if ok && err == nil {
			return u, true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return nil, false, errors.Join(errs...)
}

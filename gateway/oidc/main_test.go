package oidc

import (
	"encoding/base64"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

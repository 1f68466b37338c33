package status

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestEncodeGolden(t *testing.T) {
	tests := []struct {
		name string
		st   *Status
		want string
	}{
		{"success", NewSuccess(), `{"metadata":{},"status":"Success"}`},
		{"exit 3", NewExit(3), `{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: command terminated with exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`},
		{"internal", NewInternalError(errors.New("boom")), `{"metadata":{},"status":"Failure","message":"Internal error occurred: boom","reason":"InternalError","details":{"causes":[{"message":"boom"}]},"code":500}`},
		{"http 404", NewHTTP(404, ReasonNotFound, `pods "web" not found`, &Details{Name: "web", Kind: "pods"}),
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}`},
	}
	for _, tc := range tests {
		if got := string(tc.st.Marshal()); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		exit     int // -1: not an exit error
		wantNil  bool
		protocol bool
		message  string
	}{
		{name: "empty is success", in: ``, exit: -1, wantNil: true},
		{name: "1.37 CRI success", in: `{"status":"Success"}`, exit: -1, wantNil: true},
		{name: "translator success", in: `{"metadata":{},"status":"Success"}`, exit: -1, wantNil: true},
		{name: "exit 7 from CRI", in: `{"status":"Failure","message":"command terminated with non-zero exit code: exit status 7","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}`, exit: 7},
		{name: "exit 255", in: string(NewExit(255).Marshal()), exit: 255},
		{name: "exit 256 is a protocol error", in: `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"256"}]}}`, exit: -1, protocol: true},
		{name: "no details", in: `{"status":"Failure","reason":"NonZeroExitCode"}`, exit: -1, protocol: true},
		{name: "cause without ExitCode", in: `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"Other","message":"1"}]}}`, exit: -1, protocol: true},
		{name: "internal error", in: string(NewInternalError(errors.New("boom")).Marshal()), exit: -1, message: "Internal error occurred: boom"},
		{name: "unknown status", in: `{"status":"Weird"}`, exit: -1, message: "unknown error"},
		{name: "not json", in: `nope`, exit: -1, protocol: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Decode([]byte(tc.in))
			if tc.wantNil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			code, isExit := IsExit(err)
			if tc.exit >= 0 {
				if !isExit || code != tc.exit {
					t.Fatalf("got %v, want exit %d", err, tc.exit)
				}
				return
			}
			if isExit {
				t.Fatalf("got exit error %v", err)
			}
			var pe *ProtocolError
			if tc.protocol != errors.As(err, &pe) {
				t.Fatalf("got %v (%T), protocol error wanted: %v", err, err, tc.protocol)
			}
			if tc.message != "" && err.Error() != tc.message {
				t.Fatalf("message: got %q, want %q", err.Error(), tc.message)
			}
		})
	}
}

func TestDecodeText(t *testing.T) {
	if err := DecodeText(nil); err != nil {
		t.Errorf("empty: got %v", err)
	}
	err := DecodeText([]byte("command terminated with non-zero exit code: exit status 3"))
	var e *Error
	if !errors.As(err, &e) || e.Message != "command terminated with non-zero exit code: exit status 3" {
		t.Errorf("got %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{``, `{"status":"Success"}`, string(NewExit(3).Marshal()), `{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"x"}]}}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Decode(b)
		if code, ok := IsExit(err); ok {
			if code < 0 || code > 255 {
				t.Fatalf("exit code %d out of range", code)
			}
			// What decodes as an exit code re-encodes to the same code.
			if back, _ := IsExit(Decode(NewExit(code).Marshal())); back != code {
				t.Fatalf("round trip of %d gave %d", code, back)
			}
		}
	})
}

func TestUpgradeMessage(t *testing.T) {
	tests := []struct{ body, want string }{
		{`{"kind":"Status","message":"pods \"x\" not found"}`, `pods "x" not found`},
		{`{"error":"container not found"}`, "container not found"},
		{`{"message":"  ","error":"e"}`, "e"},
		{"unable to upgrade: no protocol\n", "unable to upgrade: no protocol"},
		{"", "empty server response"},
		{"null", "null"},
	}
	for _, tc := range tests {
		if got := UpgradeMessage([]byte(tc.body)); got != tc.want {
			t.Errorf("UpgradeMessage(%q): got %q, want %q", tc.body, got, tc.want)
		}
	}
}

// FuzzUpgradeMessage: any refusal body yields a non-empty message.
func FuzzUpgradeMessage(f *testing.F) {
	for _, s := range []string{`{"message":"m"}`, `{"error":"e"}`, "text\n", "", `{"message":"  "}`, "null"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if UpgradeMessage(b) == "" {
			t.Fatal("empty message")
		}
	})
}

// TestResponse: Response is what Write answers: code, head and body.
func TestResponse(t *testing.T) {
	st := NewHTTP(http.StatusNotFound, "NotFound", `pods "p" not found`, nil)
	rec := httptest.NewRecorder()
	Write(rec, st)
	resp := Response(st)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != rec.Code || resp.Status != "404 Not Found" || !bytes.Equal(body, rec.Body.Bytes()) ||
		resp.ContentLength != int64(len(body)) {
		t.Fatalf("Response: %d %q %q (length %d); Write: %d %q", resp.StatusCode, resp.Status, body, resp.ContentLength, rec.Code, rec.Body)
	}
	for k := range rec.Header() {
		if resp.Header.Get(k) != rec.Header().Get(k) {
			t.Errorf("header %s: %q, Write's %q", k, resp.Header.Get(k), rec.Header().Get(k))
		}
	}
}

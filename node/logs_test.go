package node

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestParseLogOptions: the query as the API server reads it, and what it
// refuses; a sinceSeconds past what a duration holds bounds nothing (it
// would wrap into the future and hide every line).
func TestParseLogOptions(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		query   string
		want    logOptions
		wantErr string
	}{
		{"", logOptions{tailLines: -1}, ""},
		{"container=c&follow=true&previous=1&timestamps=true&tailLines=5&limitBytes=9", logOptions{container: "c", follow: true, previous: true, timestamps: true, tailLines: 5, limitBytes: 9}, ""},
		{"sinceSeconds=60", logOptions{tailLines: -1, since: now.Add(-time.Minute)}, ""},
		{"sinceSeconds=9223372036854775807", logOptions{tailLines: -1}, ""},
		{"sinceTime=2026-12-03T11:00:00Z", logOptions{tailLines: -1, since: now.Add(-time.Hour)}, ""},
		{"sinceSeconds=1&sinceTime=2026-12-03T11:00:00Z", logOptions{}, "at most one of sinceTime or sinceSeconds"},
		{"tailLines=-1", logOptions{}, "tailLines"},
		{"limitBytes=0", logOptions{}, "limitBytes"},
		// Booleans as the API server reads them: present and not "0" or
		// "false" in any case is true (the official Python client sends
		// "True").
		{"follow=True&timestamps=FALSE&previous=0", logOptions{tailLines: -1, follow: true}, ""},
		{"follow=maybe&timestamps", logOptions{tailLines: -1, follow: true, timestamps: true}, ""},
		{"sinceTime=yesterday", logOptions{}, "sinceTime"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/pods/p/log?"+tc.query, nil)
		got, aerr := parseLogOptions(r, now)
		switch {
		case tc.wantErr != "":
			if aerr == nil || aerr.Status.Code != 400 || !strings.Contains(aerr.Status.Message, tc.wantErr) {
				t.Errorf("%q: %v, want a 400 about %s", tc.query, aerr, tc.wantErr)
			}
		case aerr != nil || got != tc.want:
			t.Errorf("%q: %+v %v, want %+v", tc.query, got, aerr, tc.want)
		}
	}
}

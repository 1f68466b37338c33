package harness

import (
	"bytes"
	"testing"
)

func TestStripClientGoRace(t *testing.T) {
	tests := []struct {
		in, want string
		n        int
	}{
		{"", "", 0},
		{"E1125 09:00:33.340473   18047 websocket.go:297] Unknown stream id 1, discarding message\n", "", 1},
		{"data\x00\xffE1125 09:17:52.823796   27558 websocket.go:296] Unknown stream id 1, discarding message\nmore", "data\x00\xffmore", 1},
		{"E1125 09:00:33.340473   18047 websocket.go:315] \"Unknown stream, discarding message\" id=2\n", "", 1},
		{"E1125 09:00:33.340473   18047 websocket.go:297] Copying stdout failed\n", "E1125 09:00:33.340473   18047 websocket.go:297] Copying stdout failed\n", 0},
		{"Unknown stream id 1, discarding message\n", "Unknown stream id 1, discarding message\n", 0},
	}
	for _, tc := range tests {
		got, n := StripClientGoRace([]byte(tc.in))
		if !bytes.Equal(got, []byte(tc.want)) || n != tc.n {
			t.Errorf("StripClientGoRace(%q): got %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.n)
		}
	}
}

package harness

import "regexp"

// clientGoRace matches the log line client-go's WebSocket executor writes
// when a message arrives for a stream it has not registered yet: its read
// loop starts before it creates its streams (client-go
// tools/remotecommand/websocket.go, readDemuxLoop and createStreams), so a
// message that arrives with or right after the 101 may be dropped. Servers
// send an empty "connected" message first (PROTOCOL.md 3.5), so the dropped
// message is that empty one and no data is lost; real API servers trigger
// the same line. The formats are client-go <= 0.33 and >= 0.34.
var clientGoRace = regexp.MustCompile(`E\d{4} \d\d:\d\d:\d\d\.\d{6} +\d+ websocket\.go:\d+\] (Unknown stream id \d+, discarding message|"Unknown stream, discarding message" id=\d+)\n`)

// StripClientGoRace removes client-go's dropped-message log lines from
// kubectl's stderr and says how many there were. Callers allow at most one
// (the empty connected message) and still compare every data byte, which
// is what proves nothing was lost.
func StripClientGoRace(b []byte) ([]byte, int) {
	n := len(clientGoRace.FindAllIndex(b, -1))
	if n == 0 {
		return b, 0
	}
	return clientGoRace.ReplaceAll(b, nil), n
}

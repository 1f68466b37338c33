package protocol

// HeaderStreamType names a SPDY stream's type (PROTOCOL.md sections 4.2
// and 5): header names travel in lower case; net/http canonicalises them
// when read.
const HeaderStreamType = "streamtype"

// Stream types of a remote-command session (port-forward's are in
// protocol/portforward).
const (
	StreamError  = "error"
	StreamStdin  = "stdin"
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamResize = "resize"
)

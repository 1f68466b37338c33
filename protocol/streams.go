package protocol

// The headers naming a SPDY stream (PROTOCOL.md sections 4.2 and 5): names
// travel in lower case; net/http canonicalises them when read.
const (
	HeaderStreamType = "streamtype"
	// HeaderPort and HeaderRequestID name a port-forward stream's remote
	// port and the connection its data and error streams belong to.
	HeaderPort      = "port"
	HeaderRequestID = "requestid"
)

// Stream types: the remote-command session's streams, and port-forward's
// data and error.
const (
	StreamError  = "error"
	StreamStdin  = "stdin"
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	StreamResize = "resize"
	StreamData   = "data"
)

package websocket

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	ws "github.com/coder/websocket"

	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/protocol/channel"
)

// FuzzInbound sends one arbitrary message to a v5 or base64 server, then a
// marker on stdin. The server must never panic or hang: either the marker
// comes back on stdout (the message was data, dropped or a valid close
// signal of another channel), or the message was a malformed close signal
// and the connection ended with 1002.
func FuzzInbound(f *testing.F) {
	for _, seed := range [][]byte{{0x00, 'a'}, {0x01, 'x'}, {0x04}, {}, {0xFF}, {0xFF, 0x03}, {0xFF, 0x00}, {0xFF, 0x00, 0x01}, {0x09, 0x09}} {
		f.Add(seed, false, false)
	}
	f.Add([]byte("0YQ=="), true, true)
	f.Add([]byte("9***"), true, false)
	versions := []protocol.Version{protocol.WebSocketVersions[0], protocol.WebSocketVersions[2]}
	url, _, _ := serve(f, &AcceptOptions{Versions: versions}, func(c *Conn) {
		c.Channel(channel.Stdout).CloseRead()
		c.Channel(channel.Stderr).CloseRead()
		c.Channel(channel.Error).CloseRead()
		c.Channel(channel.Resize).CloseRead()
		io.Copy(c.Channel(channel.Stdout), c.Channel(channel.Stdin))
	})
	f.Fuzz(func(t *testing.T, msg []byte, base64, text bool) {
		v := versions[0]
		if base64 {
			v = versions[1]
		}
		peer := rawDial(t, url, v.Name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		typ := ws.MessageBinary
		if text {
			typ = ws.MessageText
		}
		if err := peer.Write(ctx, typ, msg); err != nil {
			t.Fatal(err)
		}
		marker := []byte{0x00, 0xC0, 0xFF, 0xEE}
		wantOut := []byte{0x01, 0xC0, 0xFF, 0xEE}
		if base64 {
			marker = channel.AppendBase64(nil, channel.Stdin, marker[1:])
			wantOut = channel.AppendBase64(nil, channel.Stdout, wantOut[1:])
		}
		if err := peer.Write(ctx, typ, marker); err != nil {
			t.Fatal(err)
		}
		isClose := !base64 && len(msg) > 0 && msg[0] == channel.CloseSignal
		malformedClose := isClose && !validClose(msg)
		stdinClosed := isClose && validClose(msg) && msg[1] == channel.Stdin // the echo ends, then the session
		for {
			_, got, err := peer.Read(ctx)
			if err != nil {
				if malformedClose && ws.CloseStatus(err) == ws.StatusProtocolError {
					return
				}
				if stdinClosed && ws.CloseStatus(err) == ws.StatusNormalClosure {
					return
				}
				t.Fatalf("message % X: %v", msg, err)
			}
			if bytes.HasSuffix(got, wantOut) || bytes.Equal(got, wantOut) {
				if malformedClose {
					t.Fatalf("malformed close signal % X was accepted", msg)
				}
				return
			}
		}
	})
}

func validClose(msg []byte) bool {
	_, err := channel.ParseCloseSignal(msg, channel.RemoteCommand)
	return err == nil
}

package node_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/protocol"
	"github.com/porthole/porthole/transport/websocket"
)

// lineServer answers each line with "echo: " + line, then closes after "bye".
func lineServer(t *testing.T) (port uint16) {
	return streamtest.TCPServer(t, func(c net.Conn) {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			io.WriteString(c, "echo: "+sc.Text()+"\n")
			if sc.Text() == "bye" {
				return
			}
		}
	})
}

func TestLegacyWebSocketPortForward(t *testing.T) {
	base := startNode(t)
	for _, v := range []protocol.Version{protocol.UnnamedWebSocket, {Name: protocol.V4, StatusJSON: true}, {Name: protocol.V4Base64, StatusJSON: true, Base64: true}} {
		t.Run(versionName(v), func(t *testing.T) {
			good, bad := lineServer(t), uint16(1) // nothing listens on port 1
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			url := base + "/api/v1/namespaces/default/pods/p/portforward?ports=" + strconv.Itoa(int(good)) + "," + strconv.Itoa(int(bad))
			conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Versions: []protocol.Version{v}, Channels: 4})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			data := conn.Channel(0)
			errs := streamtest.ReadAll(conn.Channel(1))
			badData, badErrs := streamtest.ReadAll(conn.Channel(2)), streamtest.ReadAll(conn.Channel(3))
			prefix := make([]byte, 2)
			if _, err := io.ReadFull(data, prefix); err != nil || binary.LittleEndian.Uint16(prefix) != good {
				t.Fatalf("data prefix %v, %v", prefix, err)
			}
			data.Write([]byte("hi\nbye\n"))
			reply, _ := io.ReadAll(data)
			if string(reply) != "echo: hi\necho: bye\n" {
				t.Errorf("reply %q", reply)
			}
			if e := <-errs; string(e) != string(le(good)) {
				t.Errorf("error channel of the good port: %q", e)
			}
			if d := <-badData; string(d) != string(le(bad)) {
				t.Errorf("data channel of the bad port: %q", d)
			}
			e := string(<-badErrs)
			want := string(le(bad)) + "error forwarding port 1 to pod p, uid "
			if len(e) < len(want) || e[:len(want)] != want {
				t.Errorf("error channel of the bad port: %q, want prefix %q", e, want)
			}
			<-conn.Done()
			if err := conn.Err(); err != nil {
				t.Errorf("connection did not end with 1000: %v", err)
			}
		})
	}
}

func le(p uint16) []byte { return binary.LittleEndian.AppendUint16(nil, p) }

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"

	"github.com/porthole/porthole/interop/criref"
)

var gatewayBanner = regexp.MustCompile(`gateway listening on (http://[0-9.:]+)`)

// StartGateway runs `porthole gateway --upstream-spdy-only --profiling` in
// front of up, a reference node, so that client-go's WebSocket v5 sessions
// are translated to SPDY by porthole instead of by the API server's
// translator in the reference's front: the translation rows compare the
// two translators in front of the same SPDY server (cri-streaming). The
// gateway's upstream is the front's direct path (criref.DirectPrefix),
// where the CRI server answers SPDY on the gateway's own connection: both
// translators are one TCP hop from it. The Node's PID is the gateway's;
// closing it leaves up running.
func StartGateway(ctx context.Context, bin string, up *Node, errw io.Writer) (*Node, error) {
	cmd := exec.Command(bin, "gateway", "--listen", "127.0.0.1:0", "--upstream", up.URL+criref.DirectPrefix,
		"--upstream-spdy-only", "--profiling")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	n, err := start(cmd, errw)
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	m := gatewayBanner.FindStringSubmatch(line)
	if err != nil || m == nil {
		_ = n.Close()
		return nil, fmt.Errorf("read gateway banner %q: %v", line, err)
	}
	n.Name, n.URL = "porthole-gateway", m[1]
	n.heap = func(ctx context.Context) (uint64, error) { return promHeap(ctx, n.URL) }
	return n, nil
}

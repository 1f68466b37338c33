package root

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/porthole/porthole/internal/cli"
)

// newDemoWebCmd is the demo pod's web container: a small HTTP server on a
// loopback address, so the README's port-forward example reaches
// something. Hidden: porthole serve runs it, users do not.
func newDemoWebCmd(f *cli.Factory) *cobra.Command {
	var (
		listen, say string
		udp         bool
	)
	cmd := &cobra.Command{
		Use:    "demo-web",
		Short:  "Serve the demo pod's web page (run by porthole serve)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveDemoWeb(cmd.Context(), listen, say, udp, f)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "loopback address to serve on")
	cmd.Flags().BoolVar(&udp, "udp", false, "also answer every datagram to the same port over UDP with the --say line (for UDP port-forward)")
	cmd.Flags().StringVar(&say, "say", "", "answer every request with this line, $VAR expanded from the environment ($HOSTNAME: the pod's name); default: a greeting naming the request")
	return cmd
}

func serveDemoWeb(ctx context.Context, listen, say string, udp bool, f *cli.Factory) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("demo-web listens on loopback addresses only, not %q", listen)
	}
	say = os.ExpandEnv(say)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IOStreams.Out, "demo web serving on http://%s\n", ln.Addr())
	if udp {
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		if err != nil {
			ln.Close()
			return err
		}
		answered := make(chan struct{})
		go func() {
			defer close(answered)
			answerDatagrams(pc, say)
		}()
		defer func() {
			pc.Close()
			<-answered
		}()
	}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(f.IOStreams.Out, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339), r.Method, r.URL.RequestURI())
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if say != "" {
				fmt.Fprintln(w, say)
				return
			}
			fmt.Fprintf(w, "hello from the porthole demo pod (%s %s)\n", r.Method, r.URL.RequestURI())
		}),
	}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// answerDatagrams answers every datagram on pc with say (or a greeting)
// until pc is closed.
func answerDatagrams(pc net.PacketConn, say string) {
	if say == "" {
		say = "hello from the porthole demo pod (udp)"
	}
	buf := make([]byte, 64<<10)
	for {
		_, from, err := pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err == nil {
			_, _ = pc.WriteTo([]byte(say+"\n"), from)
		}
	}
}

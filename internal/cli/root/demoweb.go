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
	var listen, say string
	cmd := &cobra.Command{
		Use:    "demo-web",
		Short:  "Serve the demo pod's web page (run by porthole serve)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveDemoWeb(cmd.Context(), listen, say, f)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "loopback address to serve on")
	cmd.Flags().StringVar(&say, "say", "", "answer every request with this line, $VAR expanded from the environment ($HOSTNAME: the pod's name); default: a greeting naming the request")
	return cmd
}

func serveDemoWeb(ctx context.Context, listen, say string, f *cli.Factory) error {
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

package reverseproxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// nginxBin is Debian's nginx.
const nginxBin = "/usr/sbin/nginx"

// proxyTimeout is nginx's idle timeout (proxy_read_timeout and
// proxy_send_timeout, which also bound an upgraded connection with no
// traffic either way); quietFor outlasts it.
const (
	proxyTimeout = 4 * time.Second
	quietFor     = 7 * time.Second
)

// nginx is a running nginx in front of serve.
type nginx struct {
	// Kubeconfig reaches serve through nginx with serve's token.
	Kubeconfig string
	cmd        *exec.Cmd
	done       chan error
	log        *os.File
}

const nginxConf = `worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log info;
events { worker_connections 512; }
http {
  access_log {{dir}}/access.log;
  client_body_temp_path {{dir}}/body;
  proxy_temp_path {{dir}}/proxy;
  fastcgi_temp_path {{dir}}/fastcgi;
  uwsgi_temp_path {{dir}}/uwsgi;
  scgi_temp_path {{dir}}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:{{port}} ssl;
    ssl_certificate {{cert}};
    ssl_certificate_key {{key}};
    location / {
      proxy_pass https://{{upstream}};
      proxy_ssl_trusted_certificate {{upstreamCA}};
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_buffering off;
      proxy_request_buffering off;
      client_max_body_size 0;
      proxy_read_timeout {{timeout}};
      proxy_send_timeout {{timeout}};
    }
  }
}
`

// startNginx runs nginx in front of srv (whose certificates are in
// certDir), as its documentation's WebSocket proxying example has it,
// until the test ends.
func startNginx(t *testing.T, srv *harness.Server, certDir string) *nginx {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		harness.MissingPeer(t, "nginx is not installed (Debian's nginx-light): %v", err)
	}
	dir := t.TempDir()
	ca, err := harness.NewCA(dir, "nginx-ca")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue("nginx", true, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	port, err := harness.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("{{dir}}", dir, "{{port}}", fmt.Sprint(port), "{{cert}}", cert.CertFile,
		"{{key}}", cert.KeyFile, "{{upstream}}", srv.Addr, "{{upstreamCA}}", filepath.Join(certDir, "ca.crt"),
		"{{timeout}}", fmt.Sprintf("%ds", int(proxyTimeout.Seconds()))).Replace(nginxConf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	token, err := serveToken(certDir)
	if err != nil {
		t.Fatal(err)
	}
	n := &nginx{Kubeconfig: filepath.Join(dir, "kubeconfig"), done: make(chan error, 1)}
	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := harness.WriteKubeconfig(n.Kubeconfig, server, ca.CertPEM, harness.User{Token: token}); err != nil {
		t.Fatal(err)
	}
	// -e: the error log before the configuration is read (Debian's
	// default, /var/log/nginx, is not ours to write).
	n.cmd = exec.Command(nginxBin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", confPath, "-g", "daemon off;")
	if n.log, err = os.Create(filepath.Join(dir, "nginx.out")); err != nil {
		t.Fatal(err)
	}
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // gone with the test binary
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(os.Interrupt) // nginx: fast shutdown
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		n.log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error log (tail):\n%s", tailBytes(b, 4096))
		}
	})
	// Ready once it answers: /readyz through nginx to serve.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		out, err := exec.CommandContext(ctx, "curl", "-sS", "--cacert", ca.CertFile, server+"/readyz").CombinedOutput()
		cancel()
		if err == nil && strings.TrimSpace(string(out)) == "ok" {
			return n
		}
		select {
		case err := <-n.done:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s", err, tailBytes(b, 4096))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx at %s not answering /readyz: %v %s", server, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sharedNginx is nginx in front of the package's serve.
func sharedNginx(t *testing.T) *nginx {
	return startNginx(t, env.Server, filepath.Join(env.Dir, "serve-certs"))
}

// serveToken is the token serve made for itself (the first field of its
// tokens file).
func serveToken(certDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(certDir, "tokens.csv"))
	if err != nil {
		return "", err
	}
	token, _, _ := strings.Cut(strings.TrimSpace(string(b)), ",")
	return token, nil
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

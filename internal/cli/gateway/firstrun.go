package gateway

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/porthole/porthole/internal/selfcert"
	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/kube/kubeconfig"
)

// KubeconfigContext names the cluster, user and context of the kubeconfig
// the gateway writes for its own certificate.
const KubeconfigContext = "porthole-gateway"

// firstRun is what a gateway made for itself: the directory of its
// authority and certificate, and where its kubeconfig goes.
type firstRun struct {
	dir        string
	ca         []byte
	kubeconfig string
	cleanup    func()
}

// selfTLS gives an authenticated gateway HTTPS when no certificate is named:
// kubectl sends bearer tokens only over TLS, so a token-protected gateway on
// plain HTTP looks broken to kubectl users. The authority and certificate
// are made once in --cert-dir and reused, so kubeconfigs written from them
// keep working. Nothing is made with --plain-http, with the user's own
// certificate, without authentication, or with --insecure-http-auth (TLS
// ends at a proxy in front). It returns nil when nothing was made.
func selfTLS(opts *Options) (*firstRun, error) {
	sec := &opts.Security
	if opts.PlainHTTP {
		if sec.TLSCertFile != "" || sec.TLSKeyFile != "" {
			return nil, fmt.Errorf("--plain-http contradicts --tls-cert-file and --tls-private-key-file")
		}
		return nil, nil
	}
	authOn := sec.BearerTokens() || sec.ClientCAFile != ""
	if !authOn || sec.TLSCertFile != "" || sec.TLSKeyFile != "" || sec.InsecureHTTPAuth {
		return nil, nil
	}
	fr := &firstRun{}
	var err error
	if fr.dir, fr.cleanup, err = opts.Factory.CertDir(opts.CertDir, "gateway"); err != nil {
		return nil, err
	}
	b, err := selfcert.Ensure(fr.dir, selfcert.Hosts(opts.Listen), time.Now())
	if err != nil {
		fr.cleanup()
		return nil, err
	}
	if b.Made != "" {
		opts.Factory.Logger(opts.Verbosity).Info("made "+b.Made, "dir", fr.dir)
	}
	sec.TLSCertFile, sec.TLSKeyFile = filepath.Join(fr.dir, selfcert.CertFile), filepath.Join(fr.dir, selfcert.KeyFile)
	fr.ca = b.CAPEM
	fr.kubeconfig = filepath.Join(fr.dir, "kubeconfig")
	if opts.WriteKubeconfig != nil {
		fr.kubeconfig = *opts.WriteKubeconfig
	}
	return fr, nil
}

// serverURL is the https URL clients reach the gateway at: the listen host,
// or this machine's name when it listens on every interface (the name is
// in the certificate).
func serverURL(listen string, addr net.Addr) string {
	host, _, _ := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if host, _ = os.Hostname(); host == "" {
			host = "localhost"
		}
	}
	port := "443"
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
	}
	return "https://" + net.JoinHostPort(host, port)
}

// writeKubeconfig writes the gateway's address and authority, with a user
// who has no credential yet: the gateway does not know whose token it is.
// It returns the line to print.
func (fr *firstRun) writeKubeconfig(server string) (string, error) {
	if fr.kubeconfig == "" {
		return "", nil
	}
	kc := kubeconfig.New(server, KubeconfigContext, kube.DefaultNamespace)
	kc.Clusters[0].Cluster.CertificateAuthorityData = base64.StdEncoding.EncodeToString(fr.ca)
	if err := kubeconfig.WriteFile(fr.kubeconfig, kc); err != nil {
		return "", err
	}
	return fmt.Sprintf("kubeconfig: %s (this gateway's address and authority; add a credential: kubectl --kubeconfig %s config set-credentials %s --token=TOKEN)",
		fr.kubeconfig, fr.kubeconfig, KubeconfigContext), nil
}

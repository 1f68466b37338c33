package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestComponents: deploy/components/oidc and deploy/components/recordings
// add single sign-on and recordings in object storage to the gateway's
// StatefulSet: every $(VAR) in the arguments comes from an env entry whose
// ConfigMap key exists in the rendered manifests, every mount has its
// volume (the spool an emptyDir, since the root is read-only), and porthole
// gateway takes the arguments as the kubelet expands them: it gets past
// flag parsing and stops at the bucket, which is unreachable here.
func TestComponents(t *testing.T) {
	docs := renderWith(t, "components/oidc", "components/recordings")
	configMaps := map[string]map[string]any{}
	for _, d := range docs {
		if d["kind"] == "ConfigMap" {
			configMaps[get(d, "metadata", "name").(string)], _ = get(d, "data").(map[string]any)
		}
	}
	dep := find(t, docs, "StatefulSet")
	c := get(dep, "spec", "template", "spec", "containers", 0)
	env := map[string]string{}
	for _, e := range get(c, "env").([]any) {
		if get(e, "valueFrom", "fieldRef", "fieldPath") == "metadata.name" {
			env[get(e, "name").(string)] = "porthole-gateway-0" // the pod's name
			continue
		}
		ref := get(e, "valueFrom", "configMapKeyRef")
		data := configMaps[fmt.Sprint(get(ref, "name"))]
		v, ok := data[fmt.Sprint(get(ref, "key"))]
		if !ok {
			t.Errorf("env %v: ConfigMap %v has no key %v", get(e, "name"), get(ref, "name"), get(ref, "key"))
		}
		env[get(e, "name").(string)] = fmt.Sprint(v)
	}
	volumes := map[string]any{}
	for _, v := range get(dep, "spec", "template", "spec", "volumes").([]any) {
		volumes[get(v, "name").(string)] = v
	}
	for _, m := range get(c, "volumeMounts").([]any) {
		if volumes[get(m, "name").(string)] == nil {
			t.Errorf("mount %v has no volume", get(m, "name"))
		}
	}
	if get(volumes["spool"], "emptyDir") == nil || get(volumes["oidc"], "secret", "secretName") != "porthole-oidc" ||
		get(volumes["s3"], "secret", "secretName") != "porthole-s3" {
		t.Errorf("volumes: spool %v, oidc %v, s3 %v", volumes["spool"], volumes["oidc"], volumes["s3"])
	}
	var args []string
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	for _, a := range get(c, "args").([]any) {
		s := a.(string)
		for _, m := range ref.FindAllStringSubmatch(s, -1) {
			v, ok := env[m[1]]
			if !ok {
				t.Errorf("argument %s: no env %s", s, m[1])
			}
			s = strings.ReplaceAll(s, m[0], v)
		}
		args = append(args, s)
	}
	for _, want := range []string{"--oidc-issuer-url=https://", "--oidc-client-id=", "--oidc-session-key-file=",
		"--recording-bucket=", "--recording-dir=/var/spool/porthole", "--recording-credentials-file="} {
		if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, want) }) {
			t.Errorf("arguments lack %s: %q", want, args)
		}
	}

	// Run the gateway with those arguments, files in a directory, the
	// provider and the bucket on loopback ports where nothing listens.
	root := t.TempDir()
	closed := closedPort(t)
	for i, a := range args {
		a = strings.ReplaceAll(a, "/etc/porthole/", root+"/etc/porthole/")
		a = strings.ReplaceAll(a, "/var/spool/porthole", filepath.Join(root, "spool"))
		switch {
		case strings.HasPrefix(a, "--listen="):
			a = "--listen=127.0.0.1:0"
		case strings.HasPrefix(a, "--oidc-issuer-url="):
			a = "--oidc-issuer-url=https://" + closed
		case strings.HasPrefix(a, "--recording-endpoint="):
			a = "--recording-endpoint=" + closed
		}
		args[i] = a
	}
	certPEM, keyPEM, _ := selfSigned(t)
	write(t, filepath.Join(root, "etc/porthole/tls/tls.crt"), certPEM)
	write(t, filepath.Join(root, "etc/porthole/tls/tls.key"), keyPEM)
	write(t, filepath.Join(root, "etc/porthole/tokens/tokens.csv"), "t,alice,1\n")
	sa := "/var/run/secrets/kubernetes.io/serviceaccount"
	write(t, filepath.Join(root, sa, "token"), "sa-token\n")
	write(t, filepath.Join(root, sa, "ca.crt"), certPEM)
	kubeconfig := strings.ReplaceAll(get(find(t, docs, "ConfigMap"), "data", "kubeconfig").(string), sa, filepath.Join(root, sa))
	write(t, filepath.Join(root, "etc/porthole/upstream/kubeconfig"), kubeconfig)
	write(t, filepath.Join(root, "etc/porthole/oidc/session-key"), strings.Repeat("k", 32))
	write(t, filepath.Join(root, "etc/porthole/s3/credentials"), "AWS_ACCESS_KEY_ID=a\nAWS_SECRET_ACCESS_KEY=b\n")
	write(t, filepath.Join(root, "etc/porthole/peers/token"), "replicas-share-this-secret-of-40-bytes!!\n")
	write(t, filepath.Join(root, "etc/porthole/peers/ca.crt"), certPEM)
	bin, err := harness.BuildPorthole(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("gateway: %v (context %v), want it to stop at the unreachable bucket; output:\n%s", err, ctx.Err(), out.String())
	}
	for _, bad := range []string{"unknown flag", "invalid argument", "flag needs"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("the arguments did not parse (%q):\n%s", bad, out.String())
		}
	}
	if !strings.Contains(out.String(), "bucket") {
		t.Errorf("gateway stopped, but not at the bucket:\n%s", out.String())
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

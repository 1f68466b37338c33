package apiserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDeployManifests: the gateway's manifests (deploy/, alone and with its
// components for single sign-on and recordings) pass the real API server's
// validation and admission: kubectl apply -k with --dry-run=server, by
// kubectl 1.37, whose kustomize builds them as a team would. The namespace
// is created for real first (a dry-run Namespace does not exist for the
// objects in it).
func TestDeployManifests(t *testing.T) {
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "porthole"}}
	if _, err := env.cp.Admin.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cp.Admin.CoreV1().Namespaces().Delete(context.Background(), "porthole", metav1.DeleteOptions{})
	})
	k := env.kubectls[len(env.kubectls)-1]
	for _, tc := range []struct {
		name       string
		components []string
		want       []string
	}{
		{"base", nil, []string{`statefulset.apps/porthole-gateway created (server dry run)`,
			`service/porthole-gateway-peers created (server dry run)`,
			`poddisruptionbudget.policy/porthole-gateway created (server dry run)`}},
		{"oidc+recordings", []string{"components/oidc", "components/recordings"}, []string{
			`configmap/porthole-oidc created (server dry run)`, `configmap/porthole-recordings created (server dry run)`,
			`statefulset.apps/porthole-gateway created (server dry run)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(filepath.Join(dir, "deploy"), os.DirFS("../../deploy")); err != nil {
				t.Fatal(err)
			}
			kz := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../deploy\n"
			if len(tc.components) > 0 {
				kz += "components:\n"
				for _, c := range tc.components {
					kz += "- ../deploy/" + c + "\n"
				}
			}
			if err := os.MkdirAll(filepath.Join(dir, "overlay"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "overlay", "kustomization.yaml"), []byte(kz), 0o644); err != nil {
				t.Fatal(err)
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			cmd := k.Command(cctx, k.Wires()[0], t.TempDir(), env.adminKubeconfig, "apply", "-k", filepath.Join(dir, "overlay"), "--dry-run=server")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("kubectl apply --dry-run=server: %v\nstdout %s\nstderr %s", err, out.String(), errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			// The namespace made here, not by apply, draws kubectl's
			// last-applied warning; anything else is a finding.
			for _, line := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
				if line != "" && !strings.Contains(line, "missing the kubectl.kubernetes.io/last-applied-configuration annotation") {
					t.Errorf("stderr: %s", line)
				}
			}
		})
	}
}

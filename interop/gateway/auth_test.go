package gateway

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestKubectlAuth: every kubectl asks the gateway who it is (auth whoami)
// and what it may do (auth can-i, auth can-i --list), and the gateway
// answers from its token file and RBAC: kubectl 1.27 to 1.31 send the
// reviews as JSON, 1.32 and later as protobuf.
func TestKubectlAuth(t *testing.T) {
	gw := topo.toNode
	alice, bob := kubeconfig(t, gw.URL, "alice-token"), kubeconfig(t, gw.URL, "bob-token")
	for _, k := range env.Kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			w := k.Wires()[0]
			run := func(t *testing.T, kc string, args ...string) (string, int) {
				t.Helper()
				c := &client{k: k, w: w, home: t.TempDir(), kubeconfig: kc, gw: gw}
				var out bytes.Buffer
				code := c.run(t, nil, &out, nil, args...)
				return out.String(), code
			}
			t.Run("whoami", func(t *testing.T) {
				out, code := run(t, alice, "auth", "whoami", "-o", "json")
				var r struct {
					Kind   string
					Status struct {
						UserInfo struct {
							Username, UID string
							Groups        []string
						}
					}
				}
				if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
					t.Fatalf("exit %d, %q: %v", code, out, err)
				}
				if u := r.Status.UserInfo; r.Kind != "SelfSubjectReview" || u.Username != "alice" || u.UID != "1" ||
					!slices.Equal(u.Groups, []string{"admins", "system:authenticated"}) {
					t.Errorf("got %+v", r)
				}
			})
			t.Run("can-i", func(t *testing.T) {
				for _, tc := range []struct {
					name, kc string
					args     []string
					want     string
					code     int
				}{
					{"alice exec", alice, []string{"create", "pods/web", "--subresource=exec"}, "yes", 0},
					{"bob exec", bob, []string{"create", "pods/web", "--subresource=exec"}, "no", 1},
					{"bob get exec", bob, []string{"get", "pods", "--subresource=exec", "-n", "other"}, "yes", 0},
					{"bob version", bob, []string{"get", "/version"}, "yes", 0},
					{"bob metrics", bob, []string{"get", "/metrics"}, "no - the gateway serves no other non-resource URL than discovery, version and health", 1},
				} {
					out, code := run(t, tc.kc, append([]string{"auth", "can-i"}, tc.args...)...)
					if strings.TrimSpace(out) != tc.want || code != tc.code {
						t.Errorf("%s: exit %d, %q; want %d, %q", tc.name, code, out, tc.code, tc.want)
					}
				}
			})
			t.Run("can-i-list", func(t *testing.T) {
				out, code := run(t, bob, "auth", "can-i", "--list")
				rows := map[string]string{}
				for _, l := range strings.Split(out, "\n") {
					if f := strings.Fields(l); len(f) > 1 {
						rows[f[0]] = strings.Join(f[1:], " ")
					}
				}
				for res, want := range map[string]string{
					"pods":      "[] [] [get list]",
					"pods/exec": "[] [] [get list]",
					"selfsubjectaccessreviews.authorization.k8s.io": "[] [] [create]",
					"[/version]": "[] [get]",
				} {
					if rows[res] != want || code != 0 {
						t.Errorf("row %s: %q, want %q (exit %d)\n%s", res, rows[res], want, code, out)
					}
				}
			})
		})
	}
}

package apiserver

import (
	"bytes"
	"strings"
	"testing"
)

// TestGatewayAuth puts `porthole gateway --impersonate` (no RBAC of its
// own) in front of the real API server: for every kubectl, `auth whoami`,
// `auth can-i` and `auth can-i --list` of the limited user read exactly
// as when kubectl asks the API server directly. The gateway answers whoami
// itself (it authenticates) and asks the API server the rest as the
// impersonated caller; kubectl 1.32 and later send protobuf. kubectl --as
// works as against the API server: the gateway asks it whether the caller
// may impersonate.
func TestGatewayAuth(t *testing.T) {
	n := env.nodes[0]
	gw := startImpersonatingGateway(t, "auth", nil)
	for _, k := range env.kubectls {
		t.Run(k.Name(), func(t *testing.T) {
			w := k.Wires()[0]
			through := gw.kc(k, w, n, t.TempDir(), gatewayModes[0])
			straight := direct(k, w, n, t.TempDir())
			// kubectl 1.27 knows only v1alpha1 and v1beta1 of the whoami
			// review, which this API server no longer serves; the gateway
			// still answers them.
			whoami := func(user, uid string) func(result) result {
				return func(want result) result {
					if want.code == 0 || !bytes.Contains(want.stderr, []byte("selfsubjectreviews API is not enabled")) {
						return want
					}
					out := "ATTRIBUTE   VALUE\nUsername    " + user + "\n"
					if uid != "" {
						out += "UID         " + uid + "\n"
					}
					return result{stdout: []byte(out + "Groups      [system:authenticated]\n")}
				}
			}
			// The API server (1.37, constrained impersonation) names the
			// last check it made, impersonate-on the request's resource; the
			// gateway names the first, as API servers before it did.
			legacyRefusal := func(want result) result {
				if want.code == 0 || !bytes.Contains(want.stderr, []byte("impersonate-on:")) {
					return want
				}
				want.stderr = []byte(`Error from server (Forbidden): users "someone" is forbidden: User "limited" cannot impersonate resource "users" in API group "" at the cluster scope` + "\n")
				return want
			}
			for _, tc := range []struct {
				admin bool // the admin's kubeconfigs, else the limited user's
				args  []string
				adapt func(result) result // what the gateway does better or differently
			}{
				{false, []string{"auth", "whoami"}, whoami("limited", "limited-uid")},
				{false, []string{"auth", "can-i", "get", "pods"}, nil},
				{false, []string{"auth", "can-i", "create", "pods/x", "--subresource=exec"}, nil},
				{false, []string{"auth", "can-i", "list", "secrets", "-n", "kube-system"}, nil},
				{false, []string{"auth", "can-i", "get", "/version"}, nil},
				{false, []string{"auth", "can-i", "--list"}, nil},
				// kubectl --as: the admin (system:masters here and at the
				// gateway) impersonates the limited user; the limited user
				// may impersonate nobody, as the gateway asks the API server.
				{true, []string{"--as=limited", "auth", "whoami"}, whoami("limited", "")},
				{true, []string{"--as=limited", "auth", "can-i", "create", "pods/x", "--subresource=exec"}, nil},
				{true, []string{"--as=limited", "auth", "can-i", "--list"}, nil},
				{false, []string{"--as=someone", "auth", "can-i", "get", "pods"}, legacyRefusal},
			} {
				kcThrough, kcStraight := through.limited, straight.limited
				if tc.admin {
					kcThrough, kcStraight = through.admin, straight.admin
				}
				want := straight.run(t, kcStraight, nil, tc.args...)
				got := through.run(t, kcThrough, nil, tc.args...)
				if tc.adapt != nil {
					want = tc.adapt(want)
				}
				if got.code != want.code || !bytes.Equal(got.stdout, want.stdout) || !bytes.Equal(got.stderr, want.stderr) {
					t.Errorf("%s through the gateway: exit %d\n%s%s\nstraight: exit %d\n%s%s", strings.Join(tc.args, " "),
						got.code, got.stdout, got.stderr, want.code, want.stdout, want.stderr)
				}
			}
			// The gateway's own admin: system:masters, impersonated as such.
			if got := through.run(t, through.admin, nil, "auth", "can-i", "delete", "secrets", "-n", "kube-system"); got.code != 0 || string(got.stdout) != "yes\n" {
				t.Errorf("admin through the gateway: exit %d, %q %q", got.code, got.stdout, got.stderr)
			}
		})
	}
}

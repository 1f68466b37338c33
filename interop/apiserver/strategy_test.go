package apiserver

import (
	"encoding/json"
	"fmt"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/porthole/porthole/interop/internal/harness"
)

// TestSameDeploymentStrategies: porthole serve defaults and validates a
// Deployment's strategy as the API server does: 25% bounds where none are
// given, the bounds as written where they are, and each invalid strategy
// refused in the API server's words.
func TestSameDeploymentStrategies(t *testing.T) {
	srv, err := harness.StartServer(t.Context(), env.porthole, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	strategies := []string{
		``,
		`"strategy":{},`,
		`"strategy":{"rollingUpdate":{"maxSurge":1}},`,
		`"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"50%","maxUnavailable":0}},`,
		`"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"200%"}},`,
		`"strategy":{"type":"Recreate"},`,
		`"strategy":{"type":"Recreate","rollingUpdate":{"maxSurge":1}},`,
		`"strategy":{"rollingUpdate":{"maxUnavailable":"x"}},`,
		`"strategy":{"rollingUpdate":{"maxUnavailable":"1.5%"}},`,
		`"strategy":{"rollingUpdate":{"maxSurge":-1}},`,
		`"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":"0%"}},`,
		`"strategy":{"rollingUpdate":{"maxSurge":"0%","maxUnavailable":0}},`,
		`"strategy":{"rollingUpdate":{"maxUnavailable":"200%"}},`,
		`"strategy":{"rollingUpdate":{"maxUnavailable":101}},`,
		`"strategy":{"type":"Blue"},`,
		`"strategy":{"type":"Blue","rollingUpdate":{"maxSurge":"1%"}},`,
	}
	answers := make([][]string, 2)
	for i, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		for _, s := range strategies {
			body := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"strategy"},"spec":{"replicas":2,` + s +
				`"selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`
			code, raw := send(t, cfg, "POST", "/apis/apps/v1/namespaces/default/deployments?dryRun=All", "application/json", body)
			var got struct {
				Spec struct {
					Strategy json.RawMessage
				}
				Message string
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("%s: %d %s", s, code, raw)
			}
			answers[i] = append(answers[i], fmt.Sprintf("%s -> %d %s %s", s, code, got.Spec.Strategy, got.Message))
		}
	}
	for i := range answers[0] {
		t.Log(answers[0][i])
		if answers[1][i] != answers[0][i] {
			t.Errorf("porthole: %s\nthe API server: %s", answers[1][i], answers[0][i])
		}
	}
}

package apiserver

import (
	"encoding/json"
	"fmt"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSameDeploymentStrategies: porthole serve defaults and validates a
// Deployment's strategy as the API server does: 25% bounds where none are
// given, the bounds as written where they are, and each invalid strategy
// refused in the API server's words; and the spec's other counts
// (minReadySeconds, the progress deadline, the revision history).
func TestSameDeploymentStrategies(t *testing.T) {
	srv := startServe(t)
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
		`"minReadySeconds":0,`,
		`"minReadySeconds":5,`,
		`"minReadySeconds":-1,`,
		`"minReadySeconds":10,"progressDeadlineSeconds":10,`,
		`"progressDeadlineSeconds":0,`,
		`"revisionHistoryLimit":-1,`,
		`"revisionHistoryLimit":0,"progressDeadlineSeconds":1,`,
	}
	answers := make([][]string, 2)
	for i, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		for _, s := range strategies {
			body := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"strategy"},"spec":{"replicas":2,` + s +
				`"selector":{"matchLabels":{"app":"s"}},"template":{"metadata":{"labels":{"app":"s"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}`
			code, raw := send(t, cfg, "POST", "/apis/apps/v1/namespaces/default/deployments?dryRun=All", "application/json", body)
			var got struct {
				Spec struct {
					Strategy                                                       json.RawMessage
					MinReadySeconds, ProgressDeadlineSeconds, RevisionHistoryLimit json.RawMessage
				}
				Message string
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("%s: %d %s", s, code, raw)
			}
			sp := got.Spec
			answers[i] = append(answers[i], fmt.Sprintf("%s -> %d %s minReady %s deadline %s history %s %s", s, code,
				sp.Strategy, sp.MinReadySeconds, sp.ProgressDeadlineSeconds, sp.RevisionHistoryLimit, got.Message))
		}
	}
	for i := range answers[0] {
		t.Log(answers[0][i])
		if answers[1][i] != answers[0][i] {
			t.Errorf("porthole: %s\nthe API server: %s", answers[1][i], answers[0][i])
		}
	}
}

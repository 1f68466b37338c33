package apiserver

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// TestSameQuantities: a container's requests and limits come back from
// porthole serve in the real API server's canonical form (0.5 is 500m,
// 1024Mi is 1Gi, a JSON number as its text), and a request over its
// limit is refused naming the limit as the API server names it.
func TestSameQuantities(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	quantities := []string{`"0"`, `"0.0"`, `"500m"`, `"0.5"`, `".5"`, `"5."`, `"1000m"`, `"1500m"`, `"1.5"`, `"1000"`, `"1500"`,
		`"1e3"`, `"1.5e3"`, `"12e2"`, `"1E"`, `"1000000"`, `"1Gi"`, `"1024Mi"`, `"1536Mi"`, `"1.5Gi"`, `"0.5Ki"`, `"1Ki"`,
		`"1023"`, `"100Ki"`, `"0.1"`, `"1n"`, `"0.1n"`, `"1.0000000001"`, `"1u"`, `"0.000001"`, `"+1"`, `"2e-3"`, `"1e-9"`,
		`"1e-10"`, `"0.5Mi"`, `"1.5Ki"`, `"3e0"`, `"100M"`, `"0.001k"`, `0.5`, `1e3`, `2`, `1.25e-2`, `"8Ei"`, `"1.5E"`}
	// Pods of 20 containers at most, each with one quantity.
	var pods []string
	for start := 0; start < len(quantities); start += 20 {
		var containers []string
		for i, q := range quantities[start:min(start+20, len(quantities))] {
			containers = append(containers, fmt.Sprintf(`{"name":"c%d","image":"busybox","command":["sleep","1"],"resources":{"requests":{"memory":%s}}}`, i, q))
		}
		pods = append(pods, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"quantities"},"spec":{"containers":[`+strings.Join(containers, ",")+`]}}`)
	}
	over := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"over"},"spec":{"containers":[{"name":"c","image":"busybox",
"resources":{"requests":{"cpu":"1.0"},"limits":{"cpu":"0.5"}}}]}}`
	answers := make([][]string, 2)
	for i, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		var got struct {
			Spec struct {
				Containers []struct {
					Resources json.RawMessage
				}
			}
			Message string
		}
		n := 0
		for _, pod := range pods {
			code, raw := send(t, cfg, "POST", "/api/v1/namespaces/default/pods?dryRun=All", "application/json", pod)
			if err := json.Unmarshal(raw, &got); err != nil || code != 201 {
				t.Fatalf("create: %d %s", code, raw)
			}
			for _, c := range got.Spec.Containers {
				answers[i] = append(answers[i], fmt.Sprintf("%s: %s", quantities[n], c.Resources))
				n++
			}
		}
		code, raw := send(t, cfg, "POST", "/api/v1/namespaces/default/pods?dryRun=All", "application/json", over)
		_ = json.Unmarshal(raw, &got)
		answers[i] = append(answers[i], fmt.Sprintf("over: %d %s", code, got.Message))
	}
	for i := range answers[0] {
		t.Log(answers[0][i])
		if answers[1][i] != answers[0][i] {
			t.Errorf("porthole: %s\nthe API server: %s", answers[1][i], answers[0][i])
		}
	}
}

package apiserver

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

// currentRV is the server's own resourceVersion in a message.
var currentRV = regexp.MustCompile(`current: \d+`)

// TestSameListResourceVersions: a list at a resourceVersion goes the
// same way on porthole serve as on the real API server: an exact one
// shows the objects as they were (in pages too), one not older than a
// version shows them now, one not yet reached is refused after a wait,
// and bad combinations are refused in the API server's words.
func TestSameListResourceVersions(t *testing.T) {
	ensureServiceAccount(t)
	srv := startServe(t)
	const js = "application/json"
	rvs := uniqueName("rvs")
	cms := "/api/v1/namespaces/" + rvs + "/configmaps"
	answers := make([][]string, 2)
	for i, cfg := range []*rest.Config{env.cp.Config, srv.Config} {
		makeNamespace(t, cfg, rvs)
		for _, n := range []string{"a", "b", "c"} {
			send(t, cfg, "POST", cms, js, `{"metadata":{"name":"`+n+`"},"data":{"k":"`+n+`"}}`)
		}
		_, raw := send(t, cfg, "GET", cms, "", "")
		var list struct {
			Metadata struct{ ResourceVersion string }
		}
		_ = json.Unmarshal(raw, &list)
		then := list.Metadata.ResourceVersion
		n, _ := strconv.ParseUint(then, 10, 64)
		future := strconv.FormatUint(n+1000000, 10)
		send(t, cfg, "DELETE", cms+"/b", "", "")
		send(t, cfg, "POST", cms, js, `{"metadata":{"name":"d"},"data":{"k":"d"}}`)
		send(t, cfg, "PATCH", cms+"/a", "application/merge-patch+json", `{"data":{"k":"changed"}}`)
		say := func(name, query string) {
			code, raw := send(t, cfg, "GET", cms+query, "", "")
			var got struct {
				Metadata struct {
					ResourceVersion, Continue string
				}
				Items []struct {
					Metadata struct{ Name string }
					Data     map[string]string
				}
				Reason, Message string
				Details         struct {
					RetryAfterSeconds int
					Causes            []struct{ Reason, Message, Field string }
				}
			}
			_ = json.Unmarshal(raw, &got)
			var items []string
			for _, it := range got.Items {
				items = append(items, it.Metadata.Name+"="+it.Data["k"])
			}
			at := "now"
			if got.Metadata.ResourceVersion == then {
				at = "then"
			}
			msg := currentRV.ReplaceAllString(strings.ReplaceAll(got.Message, future, "FUTURE"), "current: N")
			answers[i] = append(answers[i], fmt.Sprintf("%s: %d %v at %s, continue %v; %s %s %+v", name, code, items, at,
				got.Metadata.Continue != "", got.Reason, msg, got.Details))
		}
		say("no version", "")
		say("any version", "?resourceVersion=0")
		say("exact", "?resourceVersion="+then+"&resourceVersionMatch=Exact")
		say("exact, in pages", "?resourceVersion="+then+"&resourceVersionMatch=Exact&limit=2")
		say("not older than", "?resourceVersion="+then+"&resourceVersionMatch=NotOlderThan")
		say("a version alone", "?resourceVersion="+then)
		say("a match without a version", "?resourceVersionMatch=Exact")
		say("exact at 0", "?resourceVersion=0&resourceVersionMatch=Exact")
		say("not older than 0", "?resourceVersion=0&resourceVersionMatch=NotOlderThan")
		say("an unknown match", "?resourceVersion="+then+"&resourceVersionMatch=Later")
		say("a version that is not a number", "?resourceVersion=x")
		say("a version that is not a number, exact", "?resourceVersion=x&resourceVersionMatch=Exact")
		say("a version not reached, exact", "?resourceVersion="+future+"&resourceVersionMatch=Exact")
		say("a version not reached", "?resourceVersion="+future)
	}
	for i := range answers[0] {
		t.Log(answers[0][i])
		if answers[1][i] != answers[0][i] {
			t.Errorf("porthole: %s\nthe API server: %s", answers[1][i], answers[0][i])
		}
	}
}

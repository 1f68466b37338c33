package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/gateway"
	"github.com/porthole/porthole/internal/streamtest"
	"github.com/porthole/porthole/kube"
)

// TestGatewayWrites: the writes the gateway forwards to serve (a pod's,
// Service's or Deployment's POST and DELETE, a ReplicaSet's DELETE, a
// Deployment's PATCH, its scale's PATCH and PUT, a pod's ephemeral
// containers' PATCH and PUT) are
// authorized like every other request: a viewer is refused with 403 and
// the pod stays; an editor's create and delete go through; a write body
// over the bound is refused with 413 before it reaches serve.
func TestGatewayWrites(t *testing.T) {
	tokens, err := gateway.ParseTokens(strings.NewReader("view,viewer,1\nedit,editor,2\n"))
	if err != nil {
		t.Fatal(err)
	}
	rbac := gateway.NewRBAC()
	if err := rbac.Load(strings.NewReader(`apiVersion: rbac.authorization.k8s.io/v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: view}
  rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: edit}
  rules:
  - {apiGroups: [""], resources: [pods], verbs: [get, list, create, delete]}
  - {apiGroups: [apps], resources: [deployments], verbs: [get, patch, create, delete]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: view, namespace: default}
  subjects: [{kind: User, name: viewer}]
  roleRef: {kind: ClusterRole, name: view}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: edit, namespace: default}
  subjects: [{kind: User, name: editor}]
  roleRef: {kind: ClusterRole, name: edit}
`)); err != nil {
		t.Fatal(err)
	}
	s, stop := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("victim")},
		Gateway: &gateway.Options{Tokens: tokens, Authorizer: rbac}})
	defer stop()
	do := func(method, path, token string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.URL()+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/strategic-merge-patch+json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const pod = "/api/v1/namespaces/default/pods/victim"
	if code, _ := do("GET", pod, "view", nil); code != http.StatusOK {
		t.Fatalf("viewer get: %d", code)
	}
	for _, w := range []struct{ method, path string }{
		{"POST", "/api/v1/namespaces/default/pods"},
		{"DELETE", pod},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web"},
		{"PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale"},
		{"PUT", "/apis/apps/v1/namespaces/default/deployments/web/scale"},
		{"POST", "/apis/apps/v1/namespaces/default/deployments"},
		{"POST", "/api/v1/namespaces/default/services"},
		{"DELETE", "/apis/apps/v1/namespaces/default/deployments/web"},
		{"DELETE", "/apis/apps/v1/namespaces/default/replicasets/web-1"},
		{"DELETE", "/api/v1/namespaces/default/services/web"},
		{"PATCH", pod + "/ephemeralcontainers"},
		{"PUT", pod + "/ephemeralcontainers"},
	} {
		code, body := do(w.method, w.path, "view", []byte(`{}`))
		var st struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(body), &st)
		if code != http.StatusForbidden || st.Reason != "Forbidden" || !strings.Contains(st.Message, `"viewer"`) {
			t.Errorf("viewer %s %s: %d %s, want a 403 Status naming the user", w.method, w.path, code, body)
		}
	}
	// Scaling is authorized on the subresource: patching deployments
	// is not enough.
	if code, body := do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/scale", "edit", []byte(`{"spec":{"replicas":3}}`)); code != http.StatusForbidden ||
		!strings.Contains(body, `cannot patch resource \"deployments/scale\" in API group \"apps\"`) {
		t.Errorf("editor scale: %d %s, want 403 for deployments/scale", code, body)
	}
	// So is kubectl debug's, on pods/ephemeralcontainers: creating and
	// deleting pods is not enough.
	if code, body := do("PATCH", pod+"/ephemeralcontainers", "edit", []byte(`{"spec":{"ephemeralContainers":[{"name":"d"}]}}`)); code != http.StatusForbidden ||
		!strings.Contains(body, `cannot patch resource \"pods/ephemeralcontainers\" in API group \"\"`) {
		t.Errorf("editor debug: %d %s, want 403 for pods/ephemeralcontainers", code, body)
	}
	if code, body := do("GET", pod, "view", nil); code != http.StatusOK || strings.Contains(body, "deletionTimestamp") {
		t.Fatalf("after the refused delete: %d %s, want the pod untouched", code, body)
	}
	big := append([]byte(`{"kind":"DeleteOptions","apiVersion":"v1","x":"`), bytes.Repeat([]byte("a"), 4<<20)...)
	big = append(big, `"}`...)
	// The gateway's own refusal (serve bounds its body too, in other words).
	if code, body := do("DELETE", pod, "edit", big); code != http.StatusRequestEntityTooLarge ||
		!strings.Contains(body, "the request body is larger than 3145728 bytes") {
		t.Errorf("4 MiB delete body: %d %.200s, want the gateway's 413", code, body)
	}
	made := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"made"},"spec":{"containers":[{"name":"c","command":["sleep","infinity"]}]}}`
	if code, body := do("POST", "/api/v1/namespaces/default/pods", "edit", []byte(made)); code != http.StatusCreated || !strings.Contains(body, `"name":"made"`) {
		t.Errorf("editor create: %d %s, want 201", code, body)
	}
	dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"made"},"spec":{"selector":{"matchLabels":{"app":"made"}},` +
		`"template":{"metadata":{"labels":{"app":"made"}},"spec":{"containers":[{"name":"c","command":["sleep","infinity"]}]}}}}`
	if code, body := do("POST", "/apis/apps/v1/namespaces/default/deployments", "edit", []byte(dep)); code != http.StatusCreated || !strings.Contains(body, `"name":"made"`) {
		t.Errorf("editor create deployment: %d %s, want 201", code, body)
	}
	if code, body := do("DELETE", "/apis/apps/v1/namespaces/default/deployments/made", "edit", nil); code != http.StatusOK || !strings.Contains(body, `"status":"Success"`) {
		t.Errorf("editor delete deployment: %d %s, want 200", code, body)
	}
	if code, body := do("DELETE", pod+"?gracePeriodSeconds=0", "edit", nil); code != http.StatusOK {
		t.Fatalf("editor delete: %d %s", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := do("GET", pod, "edit", nil)
		if code == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod still there after its delete: %d %.300s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCreatePod: a POSTed pod (kubectl run's) is stored, scheduled and
// run, named or from its generateName; a duplicate, an unknown namespace,
// an invalid pod, one the runtime cannot run, another kind, a namespace
// other than the path's, a body that is not JSON or too large and an
// unknown dry run are refused with the API server's Status, naming what
// is wrong; a dry run answers the pod it would make, and makes none.
func TestCreatePod(t *testing.T) {
	s, _ := startServer(t, Options{})
	post := func(path, contentType, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(s.URL()+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const pods = "/api/v1/namespaces/default/pods"
	pod := func(meta string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":` + meta + `,"spec":{"containers":[{"name":"c","image":"busybox","args":["sleep","infinity"],"resources":{}}]},"status":{}}`
	}
	code, body := post(pods, "application/json", pod(`{"name":"run1","labels":{"run":"run1"}}`))
	var p kube.Pod
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusCreated || err != nil || p.Name != "run1" || p.Namespace != "default" ||
		p.UID == "" || p.ResourceVersion == "" || p.Labels["run"] != "run1" || p.Spec.RestartPolicy != "Always" {
		t.Fatalf("create: %d %v %s", code, err, body)
	}
	if got := readyPods(t, s, "run%3Drun1", 1); got[0] != "run1" {
		t.Errorf("running %v", got)
	}
	code, body = post(pods, "application/json", pod(`{"generateName":"gen-"}`))
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusCreated || err != nil || !strings.HasPrefix(p.Name, "gen-") || len(p.Name) != len("gen-")+5 {
		t.Errorf("create from generateName: %d %v %s", code, err, body)
	}
	for _, tt := range []struct {
		path, contentType, body string
		code                    int
		reason, message         string
	}{
		{pods, "application/json", pod(`{"name":"run1"}`), 409, "AlreadyExists", `pods \"run1\" already exists`},
		{"/api/v1/namespaces/nope/pods", "application/json", pod(`{"name":"x"}`), 404, "NotFound", `namespaces \"nope\" not found`},
		{pods, "application/json", pod(`{"name":"Bad_Name"}`), 422, "Invalid", `"causes":[{"reason":"FieldValueInvalid","message":"invalid value \"Bad_Name\": must be a DNS-1123 subdomain`},
		{pods, "application/json", pod(`{}`), 422, "Invalid", `"field":"metadata.name"`},
		{pods, "application/json", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"initContainers":[{"name":"i","command":["true"]}],"containers":[{"name":"c"}]}}`,
			422, "Invalid", `{"reason":"FieldValueInvalid","message":"pod default/x: initContainers are not supported","field":"spec"}`},
		{pods, "application/json", pod(`{"name":"x","namespace":"kube-system"}`), 400, "BadRequest", "does not match the namespace sent on the request"},
		{pods, "application/json", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}`, 400, "BadRequest", `not a v1 Pod`},
		{pods, "application/json", `{"kind":`, 400, "BadRequest", "decode Pod"},
		{pods, "application/yaml", pod(`{"name":"x"}`), 415, "UnsupportedMediaType", `(got \"application/yaml\")`},
		{pods + "?dryRun=All", "application/json", pod(`{"name":"x"}`), 201, "", `"name":"x"`},
		{pods + "?dryRun=Some", "application/json", pod(`{"name":"x"}`), 400, "BadRequest", `dryRun: Unsupported value: \"Some\": supported values: \"All\"`},
		{pods, "application/json", pod(`{"name":"x","annotations":{"a":"` + strings.Repeat("a", 64<<10) + `"}}`), 413, "RequestEntityTooLarge", "too large"},
		{"/api/v1/pods", "application/json", pod(`{"name":"x"}`), 405, "MethodNotAllowed", ""},
	} {
		code, body := post(tt.path, tt.contentType, tt.body)
		if code != tt.code || tt.reason != "" && !strings.Contains(body, `"reason":"`+tt.reason+`"`) || !strings.Contains(body, tt.message) {
			t.Errorf("POST %s %.60s: %d %s, want %d %s %q", tt.path, tt.body, code, body, tt.code, tt.reason, tt.message)
		}
	}
	if code, body := get(t, s.URL()+pods+"/x"); code != http.StatusNotFound {
		t.Errorf("a refused pod exists: %d %s", code, body)
	}
}

// TestCreateDeleteObjects: Deployments and Services are created and
// deleted as the API server does it: a Deployment's delete answers a
// Success Status naming it, or itself marked when held for its pods
// (Foreground); a Service's answers itself; bad options and
// preconditions are refused with the API server's Status, dry runs
// answer what would be, and nothing is deleted.
func TestCreateDeleteObjects(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	do := func(method, path, contentType, body string) (int, string) {
		t.Helper()
		return doAs(t, s, method, path, contentType, body)
	}
	const deployments, services = "/apis/apps/v1/namespaces/default/deployments", "/api/v1/namespaces/default/services"
	deployment := func(name string) string {
		return `{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"` + name + `","creationTimestamp":null,"labels":{"app":"` + name + `"}},` +
			`"spec":{"replicas":1,"selector":{"matchLabels":{"app":"` + name + `"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"` + name + `"}},` +
			`"spec":{"containers":[{"name":"busybox","image":"busybox","resources":{}}]}},"strategy":{}},"status":{}}`
	}
	code, body := do("POST", deployments+"?fieldManager=kubectl-create&fieldValidation=Strict", "application/json", deployment("web"))
	var d kube.Deployment
	if err := json.Unmarshal([]byte(body), &d); code != http.StatusCreated || err != nil || d.UID == "" || d.Generation != 1 ||
		*d.Spec.RevisionHistoryLimit != 10 || *d.Spec.ProgressDeadlineSeconds != 600 || d.Spec.Strategy.Type != "RollingUpdate" {
		t.Fatalf("create: %d %v %s", code, err, body)
	}
	readyPods(t, s, "app%3Dweb", 1)
	svc := `{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"web"}}}`
	code, body = do("POST", services, "application/json", svc)
	var sv kube.Service
	if err := json.Unmarshal([]byte(body), &sv); code != http.StatusCreated || err != nil || sv.Spec.ClusterIP == "" || sv.Spec.Type != "ClusterIP" {
		t.Fatalf("create service: %d %v %s", code, err, body)
	}
	var eps kube.Endpoints
	getJSON(t, s, "/api/v1/namespaces/default/endpoints/web", &eps)
	if len(eps.Subsets) != 1 || len(eps.Subsets[0].Addresses) != 1 || eps.Subsets[0].Ports[0].Port != 8080 {
		t.Errorf("the new Service's endpoints: %+v", eps)
	}
	for _, tt := range []struct {
		method, path, contentType, body string
		code                            int
		want                            string
	}{
		{"POST", deployments, "application/json", deployment("web"), 409, `"reason":"AlreadyExists","details":{"name":"web","group":"apps","kind":"deployments"}`},
		{"POST", deployments, "application/json", strings.Replace(deployment("bad"), `"replicas":1`, `"replicas":1000`, 1), 422, `Deployment.apps \"bad\" is invalid: spec.replicas: invalid value 1000`},
		{"POST", deployments, "application/json", svc, 400, `the body is a v1 \"Service\", not a apps/v1 Deployment`},
		{"POST", deployments + "?dryRun=All", "application/json", deployment("dry"), 201, `"name":"dry"`},
		// No kind or apiVersion: the URL's, as the API server (the official
		// Python client's models send neither).
		{"POST", deployments + "?dryRun=All", "application/json", strings.Replace(deployment("bare"), `"kind":"Deployment","apiVersion":"apps/v1",`, ``, 1), 201, `{"kind":"Deployment","apiVersion":"apps/v1","metadata":`},
		{"POST", deployments + "?dryRun=All", "application/json", strings.Replace(deployment("bare"), `"kind":"Deployment",`, ``, 1), 201, `{"kind":"Deployment","apiVersion":"apps/v1","metadata":`},
		{"PUT", deployments + "/web?dryRun=All", "application/json", strings.Replace(deployment("web"), `"kind":"Deployment","apiVersion":"apps/v1",`, ``, 1), 200, `{"kind":"Deployment","apiVersion":"apps/v1","metadata":`},
		{"POST", services + "?dryRun=All", "application/json", strings.Replace(svc, `"name":"web"`, `"name":"dry"`, 1), 201, `"clusterIP":"`},
		{"PATCH", services + "/web?dryRun=All", "application/merge-patch+json", `{"metadata":{"labels":{"dry":"run"}}}`, 200, `"labels":{"dry":"run"}`},
		{"PATCH", deployments + "/web?dryRun=All", "application/merge-patch+json", `{"spec":{"replicas":5}}`, 200, `"replicas":5`},
		{"POST", deployments, "application/vnd.kubernetes.protobuf", "k8s\x00\x0a\x02", 400, "decode protobuf envelope"},
		{"POST", services, "application/json", strings.Replace(strings.Replace(svc, `"name":"web"`, `"name":"web2"`, 1), `"spec":{`, `"spec":{"clusterIP":"`+sv.Spec.ClusterIP+`",`, 1), 422, "provided IP is already allocated"},
		{"DELETE", deployments + "/web", "application/json", `{"propagationPolicy":"Sideways"}`, 422, `propagationPolicy: Unsupported value: \"Sideways\"`},
		{"DELETE", deployments + "/web", "application/json", `{"propagationPolicy":"Orphan","orphanDependents":true}`, 422, "cannot be both set"},
		{"DELETE", deployments + "/web", "application/json", `{"dryRun":["All"]}`, 200, `"status":"Success"`},
		{"DELETE", deployments + "/web", "application/json", `{"dryRun":["All"],"propagationPolicy":"Foreground"}`, 200, `"finalizers":["foregroundDeletion"]`},
		{"DELETE", deployments + "/web?dryRun=All", "", "", 200, `"status":"Success"`},
		{"DELETE", deployments + "/web?dryRun=Everything", "", "", 400, `dryRun: Unsupported value: \"Everything\"`},
		{"DELETE", services + "/web?dryRun=All", "", "", 200, `"kind":"Service"`},
		{"DELETE", deployments + "/web", "application/json", `{"preconditions":{"uid":"nope"}}`, 409, `UID in precondition: nope, UID in object meta: ` + d.UID},
		{"DELETE", "/api/v1/namespaces/default/pods/keep?dryRun=All", "", "", 200, `"deletionTimestamp"`},
		{"DELETE", deployments + "/nope", "", "", 404, `deployments.apps \"nope\" not found`},
		{"DELETE", "/apis/apps/v1/namespaces/default/replicasets/nope", "", "", 404, `replicasets.apps \"nope\" not found`},
		{"DELETE", services + "/nope", "", "", 404, `services \"nope\" not found`},
	} {
		code, body := do(tt.method, tt.path, tt.contentType, tt.body)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s %.80s: %d %s, want %d %s", tt.method, tt.path, tt.body, code, body, tt.code, tt.want)
		}
	}
	// The dry runs and refusals changed nothing.
	if code, body := get(t, s.URL()+"/api/v1/namespaces/default/pods/keep"); code != http.StatusOK || strings.Contains(body, "deletionTimestamp") {
		t.Errorf("the pod after a dry-run delete: %d %.200s", code, body)
	}
	var now kube.Deployment
	getJSON(t, s, deployments+"/web", &now)
	if now.DeletionTimestamp != "" || *now.Spec.Replicas != 1 || now.Generation != 1 {
		t.Errorf("the Deployment after dry runs and refused deletes: %+v", now.ObjectMeta)
	}
	getJSON(t, s, services+"/web", &sv)
	if sv.Labels["dry"] != "" {
		t.Errorf("the Service after a dry-run patch: %+v", sv.ObjectMeta)
	}
	for _, path := range []string{deployments + "/dry", services + "/dry"} {
		if code, _ := get(t, s.URL()+path); code != http.StatusNotFound {
			t.Errorf("%s after a dry-run create: %d", path, code)
		}
	}

	code, body = do("DELETE", services+"/web", "", "")
	if err := json.Unmarshal([]byte(body), &sv); code != http.StatusOK || err != nil || sv.Kind != "Service" || sv.Name != "web" {
		t.Errorf("delete service: %d %s, want the Service", code, body)
	}
	code, body = do("DELETE", deployments+"/web", "application/json", `{"propagationPolicy":"Foreground"}`)
	if err := json.Unmarshal([]byte(body), &d); code != http.StatusOK || err != nil || d.DeletionTimestamp == "" || len(d.Finalizers) != 1 || d.Finalizers[0] != "foregroundDeletion" {
		t.Errorf("delete in the foreground: %d %s, want the Deployment marked", code, body)
	}
	waitGone(t, s, deployments+"/web")
	var pods kube.PodList
	getJSON(t, s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb", &pods)
	if len(pods.Items) != 0 {
		t.Errorf("the Deployment is gone before its pods %+v", pods.Items)
	}

	do("POST", deployments, "application/json", deployment("bg"))
	readyPods(t, s, "app%3Dbg", 1)
	var d2 kube.Deployment
	getJSON(t, s, deployments+"/bg", &d2)
	code, body = do("DELETE", deployments+"/bg", "", "")
	if want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"bg","group":"apps","kind":"deployments","uid":"` + d2.UID + `"}}`; code != http.StatusOK || strings.TrimSpace(body) != want {
		t.Errorf("delete: %d %s, want %s", code, body, want)
	}
	if code, _ := get(t, s.URL()+deployments+"/bg"); code != http.StatusNotFound {
		t.Errorf("after a background delete: %d, want the Deployment gone at once", code)
	}
	for {
		getJSON(t, s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dbg", &pods)
		if len(pods.Items) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
	}
}

// waitGone polls path until it is 404; bounded by the test's deadline.
func waitGone(t *testing.T, s *Server, path string) {
	t.Helper()
	for {
		if code, _ := get(t, s.URL()+path); code == http.StatusNotFound {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a state, not ordering events
	}
}

// TestUpdateObjects: a PUT replaces an object's labels, annotations and
// spec (client-go's Update, kubectl replace), under the resourceVersion
// it names; a stale one is a 409, another name a 400, a pod's spec may
// change only in its images, a Service keeps its cluster IP, and a dry
// run changes nothing.
func TestUpdateObjects(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	put := func(path, body string) (int, string) {
		t.Helper()
		return do(t, s, "PUT", path, body)
	}
	const pod = "/api/v1/namespaces/default/pods/keep"
	var p kube.Pod
	// Started and ready: its status, and with it its resourceVersion,
	// stays as it is while the writes below name that version.
	for getJSON(t, s, pod, &p); p.Status.Phase != "Running" || !p.IsReady(); getJSON(t, s, pod, &p) {
		time.Sleep(10 * time.Millisecond) // polling a state, not ordering events
	}
	encode := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	stale := p.ResourceVersion
	p.Labels = map[string]string{"tier": "debug"}
	p.Spec.Containers[0].Image = "v2"
	code, body := put(pod, encode(p))
	var got kube.Pod
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got.Labels["tier"] != "debug" || got.Spec.Containers[0].Image != "v2" {
		t.Fatalf("PUT pod: %d %s", code, body)
	}
	changed := got
	changed.Spec.RestartPolicy = "Never"
	renamed := got
	renamed.Name = "other"
	dry := got
	dry.Labels = map[string]string{"tier": "dry"}
	for _, tt := range []struct {
		path, body string
		code       int
		want       string
	}{
		{pod, encode(p), 409, `Operation cannot be fulfilled on pods \"keep\": the object has been modified`},
		{pod, encode(changed), 422, "spec: Forbidden: pod updates may not change fields other than"},
		{pod, encode(renamed), 400, "the name of the object (other) does not match the name on the URL (keep)"},
		{pod, `{"apiVersion":"v1","kind":"Service","metadata":{"name":"keep"}}`, 400, `not a v1 Pod`},
		{pod + "?dryRun=All", encode(dry), 200, `"tier":"dry"`},
		{"/api/v1/namespaces/default/pods/nope", strings.Replace(encode(got), `"name":"keep"`, `"name":"nope"`, 1), 404, `pods \"nope\" not found`},
	} {
		if code, body := put(tt.path, tt.body); code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("PUT %s %.60s: %d %.300s, want %d %s", tt.path, tt.body, code, body, tt.code, tt.want)
		}
	}
	getJSON(t, s, pod, &p)
	if p.Labels["tier"] != "debug" || p.Spec.RestartPolicy != "Always" || p.ResourceVersion == stale {
		t.Errorf("the pod after the refusals and the dry run: %v %s", p.Labels, p.Spec.RestartPolicy)
	}

	code, body = do(t, s, "POST", "/api/v1/namespaces/default/services", `{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"ports":[{"port":80}],"selector":{"app":"web"}}}`)
	var svc kube.Service
	if err := json.Unmarshal([]byte(body), &svc); code != 201 || err != nil {
		t.Fatalf("create service: %d %s", code, body)
	}
	ip := svc.Spec.ClusterIP
	code, body = put("/api/v1/namespaces/default/services/web", `{"kind":"Service","apiVersion":"v1","metadata":{"name":"web"},"spec":{"ports":[{"port":81}],"selector":{"app":"web"}}}`)
	if err := json.Unmarshal([]byte(body), &svc); code != 200 || err != nil || svc.Spec.ClusterIP != ip || svc.Spec.Ports[0].Port != 81 {
		t.Errorf("PUT service without its cluster IP: %d %s, want it kept", code, body)
	}
}

// do sends a request with a JSON body.
func do(t *testing.T, s *Server, method, path, body string) (int, string) {
	t.Helper()
	return doAs(t, s, method, path, "application/json", body)
}

// doAs sends a request with a body of the given type.
func doAs(t *testing.T, s *Server, method, path, contentType, body string) (int, string) {
	t.Helper()
	code, b, _ := doWarned(t, s, method, path, contentType, body)
	return code, b
}

// doWarned is doAs, with the answer's Warning headers.
func doWarned(t *testing.T, s *Server, method, path, contentType, body string) (int, string, []string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Values("Warning")
}

// TestDeleteCollection: DELETE of a collection (the official clients'
// delete_collection_*) deletes what its selectors match in the path's
// namespace, each object as its own DELETE would, answers with the list
// of them, and leaves the rest; a dry run changes nothing.
func TestDeleteCollection(t *testing.T) {
	s, _ := startServer(t, Options{Pods: []*kube.Pod{streamtest.SleepPod("keep")}})
	const pods, cms = "/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/configmaps"
	for _, n := range []string{"a", "b", "c"} {
		tier := "x"
		if n == "c" {
			tier = "y"
		}
		if code, body := do(t, s, "POST", cms, `{"metadata":{"name":"`+n+`","labels":{"tier":"`+tier+`"}},"data":{"k":"v"}}`); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", n, code, body)
		}
		pod := `{"metadata":{"name":"` + n + `","labels":{"tier":"` + tier + `"}},"spec":{"terminationGracePeriodSeconds":0,"containers":[{"name":"c","image":"busybox","command":["sleep","600"]}]}}`
		if code, body := do(t, s, "POST", pods, pod); code != http.StatusCreated {
			t.Fatalf("create pod %s: %d %s", n, code, body)
		}
	}
	names := func(path string) []string {
		t.Helper()
		var l struct {
			Kind  string
			Items []kube.Pod // only the metadata is read
		}
		getJSON(t, s, path, &l)
		var out []string
		for _, o := range l.Items {
			if o.DeletionTimestamp == "" {
				out = append(out, o.Name)
			}
		}
		slices.Sort(out)
		return out
	}

	code, body := do(t, s, "DELETE", cms+"?labelSelector=tier%3Dx&dryRun=All", "")
	if code != http.StatusOK || !strings.Contains(body, `"kind":"ConfigMapList"`) {
		t.Fatalf("dry run: %d %s", code, body)
	}
	if got := names(cms); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("config maps after a dry run: %v", got)
	}
	code, body = do(t, s, "DELETE", cms+"?labelSelector=tier%3Dx", "")
	var list kube.ConfigMapList
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil || list.Kind != "ConfigMapList" || list.APIVersion != "v1" ||
		len(list.Items) != 2 || list.Items[0].Name != "a" || list.Items[1].Name != "b" {
		t.Fatalf("delete collection of config maps: %d %s, want the ConfigMapList of a and b", code, body)
	}
	if got := names(cms); !slices.Equal(got, []string{"c"}) {
		t.Errorf("config maps left: %v, want c", got)
	}

	code, body = do(t, s, "DELETE", pods+"?labelSelector=tier%3Dx", "")
	if code != http.StatusOK || !strings.Contains(body, `"kind":"PodList"`) || !strings.Contains(body, `"name":"a"`) || !strings.Contains(body, `"name":"b"`) {
		t.Fatalf("delete collection of pods: %d %s", code, body)
	}
	waitGone(t, s, pods+"/a")
	waitGone(t, s, pods+"/b")
	if got := names(pods); !slices.Equal(got, []string{"c", "keep"}) {
		t.Errorf("pods left: %v, want c and keep", got)
	}
	// No selector: every pod of the namespace; a dry run leaves them.
	code, body = do(t, s, "DELETE", pods+"?dryRun=All", "")
	if code != http.StatusOK || !strings.Contains(body, `"name":"c"`) || !strings.Contains(body, `"name":"keep"`) {
		t.Errorf("dry-run delete of every pod: %d %s", code, body)
	}
	if got := names(pods); !slices.Equal(got, []string{"c", "keep"}) {
		t.Errorf("pods after a dry run: %v, want c and keep", got)
	}
}

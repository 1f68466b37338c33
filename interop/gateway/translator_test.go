package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/localrt"
	"github.com/porthole/porthole/node"
)

// TestAPIServerTranslatorInFrontOfNode puts the API server's own stream
// translator (k8s.io/apiserver) in front of porthole's node on the kubelet
// paths, as an API server does for a node that does not translate itself,
// and drives it with client-go's WebSocket executor.
func TestAPIServerTranslatorInFrontOfNode(t *testing.T) {
	pods := []*kube.Pod{{ObjectMeta: kube.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: kube.PodSpec{Containers: []kube.Container{{Name: "c", Command: []string{"sleep", "100000"}}}}}}
	rt, err := localrt.New(pods, &localrt.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := node.New(rt, &node.Options{Logger: slog.New(slog.DiscardHandler)})
	nodeSrv := httptest.NewServer(n)
	defer func() {
		nodeSrv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		n.Shutdown(sctx)
		rt.Close()
	}()
	waitRunning(t, rt)
	// The front maps the API server's query onto the kubelet URL, as
	// the API server's streamLocation does, and hands the request to the
	// translator.
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		kq := url.Values{"command": q["command"]}
		opts := proxy.Options{}
		for api, kubelet := range map[string]string{"stdin": "input", "stdout": "output", "stderr": "error"} {
			if q.Get(api) == "true" {
				kq.Set(kubelet, "1")
			}
		}
		opts.Stdin, opts.Stdout, opts.Stderr = q.Get("stdin") == "true", q.Get("stdout") == "true", q.Get("stderr") == "true"
		loc, _ := url.Parse(nodeSrv.URL + "/exec/default/p/c?" + kq.Encode())
		proxy.NewStreamTranslatorHandler(loc, nil, 0, opts).ServeHTTP(w, r)
	}))
	defer front.Close()
	run := func(stdin string, command ...string) (string, string, error) {
		q := url.Values{"command": command, "stdout": {"true"}, "stderr": {"true"}}
		if stdin != "" {
			q.Set("stdin", "true")
		}
		e, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: front.URL}, http.MethodGet, front.URL+"/exec?"+q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		opts := remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut}
		if stdin != "" {
			opts.Stdin = strings.NewReader(stdin)
		}
		err = stream(t, e, opts)
		return out.String(), errOut.String(), err
	}
	out, errOut, err := run("", "sh", "-c", "printf out; printf err >&2; exit 42")
	var ce utilexec.CodeExitError
	if !errors.As(err, &ce) || ce.Code != 42 || out != "out" || errOut != "err" {
		t.Errorf("exit 42: got %q %q %T %v", out, errOut, err, err)
	}
	if out, _, err := run("hello through the translator", "cat"); err != nil || out != "hello through the translator" {
		t.Errorf("stdin to EOF: got %q %v", out, err)
	}
}

func waitRunning(t *testing.T, rt *localrt.Runtime) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pod, err := rt.Pod(context.Background(), "default", "p")
		if err != nil {
			t.Fatal(err)
		}
		if len(pod.Status.ContainerStatuses) == 1 && pod.Status.ContainerStatuses[0].State.Running != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("pod not running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

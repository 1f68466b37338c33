package cluster

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/porthole/porthole/kube"
)

// names sums a page up: its objects, whether it goes on, how many remain.
func names(p ListPage) string {
	var out []string
	for _, o := range p.Items {
		m := o.Meta()
		v := o.(*kube.ConfigMap).Data["k"]
		out = append(out, m.Namespace+"/"+m.Name+"="+v)
	}
	remaining := "-"
	if p.Remaining != nil {
		remaining = fmt.Sprint(*p.Remaining)
	}
	return fmt.Sprintf("%v more=%v remaining=%s", out, p.Continue != "", remaining)
}

// TestListChunk: a list in pages goes by the API server's keys, says how
// many remain unless a selector narrows it, and stays the list of its
// first page whatever is written between pages; a token older than the
// history is the API server's 410, with a token going on from the same
// key in the objects as they are now.
func TestListChunk(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	for _, ns := range []string{"a", "a-b"} {
		if _, err := c.CreateNamespace(&kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a/x", "a-b/y", "a/w", "a/v", "a-b/z"} {
		ns, name, _ := strings.Cut(n, "/")
		if _, err := c.CreateConfigMap(&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: name, Namespace: ns}, Data: map[string]string{"k": n}}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.ListChunk(t.Context(), ConfigMaps, "", nil, false, 0, "", ListAt{})
	if err != nil || names(all) != "[a-b/y=a-b/y a-b/z=a-b/z a/v=a/v a/w=a/w a/x=a/x] more=false remaining=-" {
		t.Fatalf("all at once: %s %v", names(all), err)
	}
	first, err := c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 2, "", ListAt{})
	if err != nil || names(first) != "[a/v=a/v a/w=a/w] more=true remaining=1" {
		t.Fatalf("first page: %s %v", names(first), err)
	}
	// Writes between the pages: a new object, a deleted one, a changed one.
	if _, err := c.CreateConfigMap(&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "xx", Namespace: "a"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchConfigMap("a", "x", []byte(`{"data":{"k":"changed"}}`)); err != nil {
		t.Fatal(err)
	}
	second, err := c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 2, first.Continue, ListAt{})
	if err != nil || names(second) != "[a/x=a/x] more=false remaining=-" || second.ResourceVersion != first.ResourceVersion {
		t.Errorf("second page: %s %v, at %s (the first at %s)", names(second), err, second.ResourceVersion, first.ResourceVersion)
	}
	if _, err := c.Delete(ConfigMaps, "a", "x", Background); err != nil {
		t.Fatal(err)
	}
	second, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 2, first.Continue, ListAt{})
	if err != nil || names(second) != "[a/x=a/x] more=false remaining=-" {
		t.Errorf("second page, its object deleted since: %s %v", names(second), err)
	}
	// A selector: no count, and a page may end with nothing more to find.
	sel := func(o Object) bool { return o.Meta().Name != "xx" }
	p, err := c.ListChunk(t.Context(), ConfigMaps, "a", sel, true, 2, "", ListAt{})
	if err != nil || names(p) != "[a/v=a/v a/w=a/w] more=true remaining=-" {
		t.Fatalf("selected: %s %v", names(p), err)
	}
	if p, err = c.ListChunk(t.Context(), ConfigMaps, "a", sel, true, 2, p.Continue, ListAt{}); err != nil || names(p) != "[] more=false remaining=-" {
		t.Errorf("selected, second page: %s %v", names(p), err)
	}
	// Enough writes that the history no longer reaches the first page.
	for i := range historySize + 1 {
		if _, err := c.PatchConfigMap("a", "v", []byte(fmt.Sprintf(`{"data":{"n":"%d"}}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 2, first.Continue, ListAt{})
	var expired *ExpiredError
	if !errors.As(err, &expired) {
		t.Fatalf("a token older than the history: %v", err)
	}
	start, rv, derr := DecodeContinue(expired.Continue)
	if derr != nil || start != "w\x00" || rv != -1 {
		t.Errorf("the expired list's token: %q %d %v", start, rv, derr)
	}
	p, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 2, expired.Continue, ListAt{})
	if err != nil || names(p) != "[a/xx=] more=false remaining=-" {
		t.Errorf("going on, inconsistently: %s %v", names(p), err)
	}
	for _, tok := range []string{"%", encodeContinue("/../b", 5), encodeContinue("", 5), encodeContinue("/a", 0)} {
		var bad *ContinueError
		if _, err := c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 2, tok, ListAt{}); !errors.As(err, &bad) || !strings.HasPrefix(bad.Msg, "invalid continue token: continue key is not valid") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}

// FuzzDecodeContinue: a token decodes, or is refused, and never names a
// key outside its list's; what decodes encodes back to the same.
func FuzzDecodeContinue(f *testing.F) {
	f.Add(encodeContinue("/b\x00", 5))
	f.Add(encodeContinue("/../x", 5))
	f.Add("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIsInN0YXJ0IjoiL2JcdTAwMDAifQ")
	f.Fuzz(func(t *testing.T, tok string) {
		start, rv, err := DecodeContinue(tok)
		if err != nil {
			return
		}
		if rv == 0 || path.Clean("/"+start) != "/"+start {
			t.Fatalf("%q: start %q at %d", tok, start, rv)
		}
		if s2, rv2, err := DecodeContinue(encodeContinue("/"+start, rv)); err != nil || s2 != start || rv2 != rv {
			t.Fatalf("%q: %q %d again as %q %d %v", tok, start, rv, s2, rv2, err)
		}
	})
}

// TestListAt: a list at an exact resourceVersion shows the objects as
// they were; one not yet reached waits, then is refused; one older than
// the history is refused.
func TestListAt(t *testing.T) {
	c := startCluster(t, newFake(), Objects{})
	if _, err := c.CreateNamespace(&kube.Namespace{ObjectMeta: kube.ObjectMeta{Name: "a"}}); err != nil {
		t.Fatal(err)
	}
	cm, err := c.CreateConfigMap(&kube.ConfigMap{ObjectMeta: kube.ObjectMeta{Name: "x", Namespace: "a"}, Data: map[string]string{"k": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	then, _ := strconv.ParseUint(cm.ResourceVersion, 10, 64)
	if _, err := c.PatchConfigMap("a", "x", []byte(`{"data":{"k":"2"}}`)); err != nil {
		t.Fatal(err)
	}
	p, err := c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 0, "", ListAt{ResourceVersion: then, Exact: true})
	if err != nil || names(p) != "[a/x=1] more=false remaining=-" || p.ResourceVersion != cm.ResourceVersion {
		t.Errorf("exact: %s at %s, %v", names(p), p.ResourceVersion, err)
	}
	if p, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 0, "", ListAt{ResourceVersion: then}); err != nil || names(p) != "[a/x=2] more=false remaining=-" {
		t.Errorf("not older than: %s, %v", names(p), err)
	}
	defer func(d time.Duration) { tooLargeWait = d }(tooLargeWait)
	tooLargeWait = 100 * time.Millisecond
	var tooLarge *VersionTooLargeError
	if _, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 0, "", ListAt{ResourceVersion: then + 100}); !errors.As(err, &tooLarge) || tooLarge.Current != then+1 {
		t.Errorf("a version not reached: %v", err)
	}
	// One reached while the list waits.
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = c.PatchConfigMap("a", "x", []byte(`{"data":{"k":"3"}}`))
	}()
	if p, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 0, "", ListAt{ResourceVersion: then + 2, Exact: true}); err != nil || names(p) != "[a/x=3] more=false remaining=-" {
		t.Errorf("a version reached while waiting: %s, %v", names(p), err)
	}
	for i := range historySize + 1 {
		if _, err := c.PatchConfigMap("a", "x", []byte(fmt.Sprintf(`{"data":{"n":"%d"}}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err = c.ListChunk(t.Context(), ConfigMaps, "a", nil, false, 0, "", ListAt{ResourceVersion: then, Exact: true}); !errors.Is(err, ErrListTooOld) {
		t.Errorf("exact, older than the history: %v", err)
	}
}

package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lists in chunks, as the API server serves them (limit and continue:
// kubectl get, client-go's pager, the official clients' list calls). A
// page ends with a continue token naming the list's resourceVersion and
// the key after its last object; the pages after it are read from the
// objects as they were at that version, rebuilt from the history of
// changes (as etcd keeps its revisions), so that a list in chunks is one
// consistent list. A token older than the history is the API server's
// 410 for a compacted revision.

// ContinueError is a continue token the API server would not take: its
// 400.
type ContinueError struct{ Msg string }

func (e *ContinueError) Error() string { return e.Msg }

// ExpiredError is a continue token older than the history kept: the
// API server's 410, whose Continue goes on from the same key in the
// objects as they are now.
type ExpiredError struct{ Continue string }

func (e *ExpiredError) Error() string {
	return "The provided continue parameter is too old to display a consistent list result. You can start a new list without " +
		"the continue parameter, or use the continue token in this response to retrieve the remainder of the results. " +
		"Continuing with the provided token results in an inconsistent list - objects that were created, modified, or " +
		"deleted between the time the first chunk was returned and now may show up in the list."
}

// ErrListTooOld is a list at an exact resourceVersion older than the
// history kept: the API server's 410 for a compacted revision.
var ErrListTooOld = errors.New("The resourceVersion for the provided list is too old.")

// VersionTooLargeError is a list at a resourceVersion the cluster has
// not reached: the API server's 504, which says to try again.
type VersionTooLargeError struct{ Want, Current uint64 }

func (e *VersionTooLargeError) Error() string {
	return fmt.Sprintf("Too large resource version: %d, current: %d", e.Want, e.Current)
}

// ListAt is the version of the objects a list shows: Exact, the objects
// as they were at that resourceVersion; else at least it, now. Zero is
// now.
type ListAt struct {
	ResourceVersion uint64
	Exact           bool
}

// tooLargeWait is how long a list at a resourceVersion not yet reached
// waits for it, as the API server's cache does.
var tooLargeWait = 3 * time.Second

// waitFor waits until the cluster has reached rv, ctx is done or
// tooLargeWait passes, and says whether it has.
func (c *Cluster) waitFor(ctx context.Context, rv uint64) error {
	deadline := time.Now().Add(tooLargeWait)
	for {
		c.mu.Lock()
		current := c.rv
		c.mu.Unlock()
		if current >= rv {
			return nil
		}
		if time.Now().After(deadline) {
			return &VersionTooLargeError{Want: rv, Current: current}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// continueToken is a continue token's content, as the API server's.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

var errInvalidKey = errors.New("continue key is not valid")

// encodeContinue is the token going on from start (a key relative to the
// list's, with its leading "/") at resourceVersion rv.
func encodeContinue(start string, rv int64) string {
	b, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rv, StartKey: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeContinue reads a token as the API server does: its start key
// (relative to the list's, without its leading "/") and resourceVersion.
func DecodeContinue(tok string) (string, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", errInvalidKey, err)
	}
	var c continueToken
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", 0, fmt.Errorf("%w: %v", errInvalidKey, err)
	}
	switch {
	case c.APIVersion != "meta.k8s.io/v1":
		return "", 0, fmt.Errorf("%w: server does not recognize this encoded version %v", errInvalidKey, c.APIVersion)
	case c.ResourceVersion == 0:
		return "", 0, fmt.Errorf("%w: incorrect encoded start resourceVersion (version meta.k8s.io/v1)", errInvalidKey)
	case c.StartKey == "":
		return "", 0, fmt.Errorf("%w: encoded start key empty (version meta.k8s.io/v1)", errInvalidKey)
	}
	k := c.StartKey
	if !strings.HasPrefix(k, "/") {
		k = "/" + k
	}
	if path.Clean(k) != k { // no way out of the list's keys
		return "", 0, fmt.Errorf("%w: %v", errInvalidKey, c.StartKey)
	}
	return k[1:], c.ResourceVersion, nil
}

// ListPage is one page of a list.
type ListPage struct {
	Items           []Object
	ResourceVersion string
	// Continue, when more objects may follow, goes on from the next.
	Continue string
	// Remaining is how many follow, for a list not narrowed by a
	// selector (as the API server counts them), else nil.
	Remaining *int64
}

// ListChunk lists res as List does, in pages of limit objects (0: all
// at once): from the start of the list, or from where cont, a page's
// Continue, left off, in the objects as they were then; the first page
// of the objects at at (waiting a little for a version not yet reached).
// selected says that match narrows the list by a selector.
func (c *Cluster) ListChunk(ctx context.Context, res Resource, namespace string, match func(Object) bool, selected bool, limit int64, cont string, at ListAt) (ListPage, error) {
	start, from := "", int64(0)
	if cont != "" {
		var err error
		if start, from, err = DecodeContinue(cont); err != nil {
			return ListPage{}, &ContinueError{Msg: "invalid continue token: " + err.Error()}
		}
	}
	if at.ResourceVersion > 0 {
		if err := c.waitFor(ctx, at.ResourceVersion); err != nil {
			return ListPage{}, err
		}
		if at.Exact {
			from = int64(at.ResourceVersion)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if res == Pods && cont == "" {
		c.syncPodsLocked()
	}
	objs, rv := c.objs[res], c.rv
	if from > 0 && uint64(from) != c.rv {
		var ok bool
		if objs, ok = c.stateAtLocked(res, uint64(from)); !ok {
			if cont == "" {
				return ListPage{}, ErrListTooOld
			}
			return ListPage{}, &ExpiredError{Continue: encodeContinue("/"+start, -1)}
		}
		rv = uint64(from)
	}
	// The API server's keys: a namespaced list's by name, a list of all
	// namespaces' by namespace and name.
	keyOf := func(k key) string {
		if namespace != "" || k.namespace == "" {
			return k.name
		}
		return k.namespace + "/" + k.name
	}
	var keys []key
	for k := range objs {
		if (namespace == "" || k.namespace == namespace) && keyOf(k) >= start {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int { return strings.Compare(keyOf(a), keyOf(b)) })
	page := ListPage{ResourceVersion: strconv.FormatUint(rv, 10)}
	for i, k := range keys {
		if limit > 0 && int64(len(page.Items)) == limit {
			page.Continue = encodeContinue("/"+keyOf(keys[i-1])+"\x00", int64(rv))
			if !selected {
				n := int64(len(keys) - i)
				page.Remaining = &n
			}
			break
		}
		if o := objs[k]; match == nil || match(o) {
			page.Items = append(page.Items, o)
		}
	}
	return page, nil
}

// stateAtLocked is the objects of res as they were at resourceVersion
// rv, rebuilt from the objects now and the changes since, or false when
// the history no longer holds every change since.
func (c *Cluster) stateAtLocked(res Resource, rv uint64) (map[key]Object, bool) {
	if rv > c.rv || rv+1 < c.oldestLocked() {
		return nil, false
	}
	state := maps.Clone(c.objs[res])
	kept := c.keptLocked()
	for i := len(kept) - 1; i >= 0 && kept[i].RV > rv; i-- {
		e := kept[i]
		if e.Resource != res {
			continue
		}
		m := e.Object.Meta()
		k := key{m.Namespace, m.Name}
		switch {
		case e.Type == "ADDED":
			delete(state, k)
		case e.Prev != nil:
			state[k] = e.Prev
		default:
			return nil, false // a change whose object before is not known
		}
	}
	return state, true
}

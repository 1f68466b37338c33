package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/porthole/porthole/kube"
	"github.com/porthole/porthole/protocol/status"
	"github.com/porthole/porthole/serve/cluster"
)

// A Deployment's scale subresource, for kubectl scale: GET, a merge patch
// of spec.replicas (kubectl scale), or a PUT with the resourceVersion read
// (kubectl scale --current-replicas or --resource-version).

// scaleOf is d's autoscaling/v1 Scale.
func scaleOf(d *kube.Deployment) *kube.Scale {
	m := d.ObjectMeta
	return &kube.Scale{
		TypeMeta: kube.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: kube.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
			ResourceVersion: m.ResourceVersion, CreationTimestamp: m.CreationTimestamp},
		Spec:   kube.ScaleSpec{Replicas: kube.Replicas(d.Spec.Replicas)},
		Status: kube.ScaleStatus{Replicas: d.Status.Replicas, Selector: d.Spec.Selector.String()},
	}
}

func (a *api) getScale(r *http.Request) (any, *status.HTTPError) {
	o, found := a.cluster.Get(cluster.Deployments, r.PathValue("namespace"), r.PathValue("name"))
	if !found {
		return nil, notFoundIn(deploymentKind, r.PathValue("name"))
	}
	return scaleOf(o.(*kube.Deployment)), nil
}

// patchScale applies a merge patch to the Scale: of its fields only
// spec.replicas can change.
func (a *api) patchScale(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	var patch struct {
		Spec *struct {
			Replicas *int32 `json:"replicas"`
		} `json:"spec"`
	}
	if herr := readScaleBody(r, &patch, "application/merge-patch+json", "application/strategic-merge-patch+json"); herr != nil {
		return nil, herr
	}
	if patch.Spec == nil || patch.Spec.Replicas == nil {
		return a.getScale(r)
	}
	return a.scale(r, *patch.Spec.Replicas, "")
}

// putScale replaces the Scale: its spec.replicas, under its
// resourceVersion when it names one.
func (a *api) putScale(_ http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	var s kube.Scale
	// client-go's scale client sends its PUT without a Content-Type.
	if herr := readScaleBody(r, &s, "application/json", ""); herr != nil {
		return nil, herr
	}
	if s.Name != "" && s.Name != r.PathValue("name") {
		return nil, badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", s.Name, r.PathValue("name")))
	}
	return a.scale(r, s.Spec.Replicas, s.ResourceVersion)
}

func readScaleBody(r *http.Request, v any, accepted ...string) *status.HTTPError {
	body, _, aerr := writeBody(r, maxBody, accepted...)
	if aerr != nil {
		return aerr
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest(fmt.Sprintf("decode Scale: %v", err))
	}
	return nil
}

func (a *api) scale(r *http.Request, replicas int32, resourceVersion string) (any, *status.HTTPError) {
	name := r.PathValue("name")
	kind := "UpdateOptions"
	if r.Method == http.MethodPatch {
		kind = "PatchOptions"
	}
	opts, aerr := writeOptions(r, kind)
	if aerr != nil {
		return nil, aerr
	}
	opts.Subresource = "scale"
	d, err := a.cluster.ScaleDeployment(r.PathValue("namespace"), name, replicas, resourceVersion, opts)
	var inv *cluster.InvalidError
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		return nil, notFoundIn(deploymentKind, name)
	case errors.Is(err, cluster.ErrConflict):
		return nil, &status.HTTPError{Status: status.NewHTTP(http.StatusConflict, "Conflict",
			fmt.Sprintf("Operation cannot be fulfilled on deployments.apps %q: %v", name, err), &status.Details{Name: name, Group: "apps", Kind: "deployments"})}
	case errors.As(err, &inv):
		return nil, invalid("autoscaling", "Scale", name, inv.Msg, inv.Causes...)
	case err != nil:
		return nil, internalError(fmt.Errorf("scale: %w", err))
	}
	return scaleOf(d), nil
}

package serve

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/porthole/porthole/protocol/status"
)

// OpenAPI, as much of it as kubectl apply reads: kubectl validates a
// manifest on the server (fieldValidation=Strict) only when the OpenAPI
// document (v3 from kubectl 1.29, v2 before) says the kind's PATCH takes
// that parameter, and otherwise needs the full schema to validate it
// itself, which serve does not publish. So serve publishes, for each
// kind it creates, the PATCH operation and its parameters, and no
// schemas (kubectl explain needs those, and says it cannot find them).

// openAPIKind is one kind's entry in its group version's document.
type openAPIKind struct {
	gv, group, version, kind, path string
	// patches are the patch media types serve takes.
	patches []string
}

var openAPIKinds = []openAPIKind{
	{"api/v1", "", "v1", "Namespace", "/api/v1/namespaces/{name}", patchTypes},
	{"api/v1", "", "v1", "ConfigMap", "/api/v1/namespaces/{namespace}/configmaps/{name}", patchTypes},
	{"api/v1", "", "v1", "Pod", "/api/v1/namespaces/{namespace}/pods/{name}", patchTypes},
	{"api/v1", "", "v1", "Secret", "/api/v1/namespaces/{namespace}/secrets/{name}", patchTypes},
	{"api/v1", "", "v1", "Service", "/api/v1/namespaces/{namespace}/services/{name}", patchTypes},
	{"apis/apps/v1", "apps", "v1", "Deployment", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", patchTypes},
}

// patchTypes are the patch media types serve applies.
var patchTypes = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}

// openAPI holds the documents, made once: by group version path
// ("apis/apps/v1"), and the root listing them with their hashes; and the
// one OpenAPI v2 document that kubectl 1.27 and 1.28 read instead, in
// JSON and in gnostic's protobuf, which is what they ask for.
type openAPI struct {
	root       []byte
	docs       map[string][]byte
	v2JSON     []byte
	v2Protobuf []byte
}

func newOpenAPI(version string) *openAPI {
	o := &openAPI{docs: map[string][]byte{}}
	byGV := map[string]map[string]any{}
	for _, k := range openAPIKinds {
		if byGV[k.gv] == nil {
			byGV[k.gv] = map[string]any{}
		}
		params := []any{}
		for _, p := range []string{"dryRun", "fieldManager", "fieldValidation", "force"} {
			params = append(params, map[string]any{"name": p, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		op := map[string]any{
			"parameters":                      params,
			"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
			"x-kubernetes-action":             "patch",
			"x-kubernetes-group-version-kind": map[string]string{"group": k.group, "version": k.version, "kind": k.kind},
		}
		if len(k.patches) > 0 {
			content := map[string]any{}
			for _, t := range k.patches {
				content[t] = map[string]any{}
			}
			op["requestBody"] = map[string]any{"content": content, "required": true}
		}
		byGV[k.gv][k.path] = map[string]any{"patch": op}
	}
	paths := map[string]any{}
	for gv, p := range byGV {
		doc, err := json.Marshal(map[string]any{
			"openapi":    "3.0.0",
			"info":       map[string]string{"title": "Kubernetes", "version": version},
			"paths":      p,
			"components": map[string]any{"schemas": map[string]any{}},
		})
		if err != nil {
			panic(fmt.Sprintf("serve: encode OpenAPI: %v", err)) // maps of strings always encode
		}
		o.docs[gv] = doc
		sum := sha256.Sum256(doc)
		paths[gv] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=" + strings.ToUpper(hex.EncodeToString(sum[:16]))}
	}
	root, err := json.Marshal(map[string]any{"paths": paths})
	if err != nil {
		panic(fmt.Sprintf("serve: encode OpenAPI root: %v", err))
	}
	o.root = root
	o.v2JSON, o.v2Protobuf = openAPIV2(version)
	return o
}

// openAPIV2 is the v2 document with the same operations, in JSON and in
// the protobuf encoding of gnostic's openapi_v2.Document (field numbers
// from its OpenAPIv2.proto).
func openAPIV2(version string) (doc, pb []byte) {
	paths := map[string]any{}
	var pathsPB pbuf
	for _, k := range openAPIKinds {
		gvk := map[string]string{"group": k.group, "version": k.version, "kind": k.kind}
		var params []any
		var op pbuf
		for _, p := range []string{"dryRun", "fieldManager", "fieldValidation", "force"} {
			params = append(params, map[string]any{"name": p, "in": "query", "type": "string"})
			query := pbuf(nil).str(2, "query").str(4, p).str(6, "string")
			op = op.msg(8, pbuf(nil).msg(1, pbuf(nil).msg(2, pbuf(nil).msg(3, query))))
		}
		op = op.msg(9, pbuf(nil).msg(1, pbuf(nil).str(1, "200").msg(2, pbuf(nil).msg(1, pbuf(nil).str(1, "OK")))))
		yaml := fmt.Sprintf("group: %q\nkind: %s\nversion: %s\n", k.group, k.kind, k.version)
		op = op.msg(13, pbuf(nil).str(1, "x-kubernetes-group-version-kind").msg(2, pbuf(nil).str(2, yaml)))
		pathsPB = pathsPB.msg(2, pbuf(nil).str(1, k.path).msg(2, pbuf(nil).msg(8, op)))
		paths[k.path] = map[string]any{"patch": map[string]any{
			"parameters":                      params,
			"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
			"x-kubernetes-action":             "patch",
			"x-kubernetes-group-version-kind": gvk,
		}}
	}
	doc, err := json.Marshal(map[string]any{
		"swagger": "2.0",
		"info":    map[string]string{"title": "Kubernetes", "version": version},
		"paths":   paths,
	})
	if err != nil {
		panic(fmt.Sprintf("serve: encode OpenAPI v2: %v", err))
	}
	pb = pbuf(nil).str(1, "2.0").msg(2, pbuf(nil).str(1, "Kubernetes").str(2, version)).msg(8, pathsPB)
	return doc, pb
}

// pbuf writes protobuf fields: only strings and messages are needed.
type pbuf []byte

func (b pbuf) str(num int, s string) pbuf { return b.msg(num, pbuf(s)) }

func (b pbuf) msg(num int, m pbuf) pbuf {
	b = binary.AppendUvarint(b, uint64(num)<<3|2)
	b = binary.AppendUvarint(b, uint64(len(m)))
	return append(b, m...)
}

// getRoot answers /openapi/v3: the group versions' documents, each under
// a URL whose hash names its content.
func (o *openAPI) getRoot(*http.Request) (any, *status.HTTPError) {
	return json.RawMessage(o.root), nil
}

// getDoc answers /openapi/v3/{group version}.
func (o *openAPI) getDoc(r *http.Request) (any, *status.HTTPError) {
	doc, ok := o.docs[r.PathValue("gv")]
	if !ok {
		return nil, errNoRoute
	}
	return json.RawMessage(doc), nil
}

// getV2 answers /openapi/v2: gnostic's protobuf when asked for it (as
// client-go does), else JSON.
func (o *openAPI) getV2(w http.ResponseWriter, r *http.Request) (any, *status.HTTPError) {
	if strings.Contains(r.Header.Get("Accept"), "protobuf") {
		w.Header().Set("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
		w.Write(o.v2Protobuf)
		return nil, nil
	}
	return json.RawMessage(o.v2JSON), nil
}

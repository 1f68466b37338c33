package serve

import (
	"mime"
	"strings"
)

// output is the response form a client asked for.
type output int

const (
	outJSON  output = iota // the object itself
	outTable               // a meta.k8s.io Table (kubectl get's server-side printing)
)

// negotiation is the outcome of reading an Accept header.
type negotiation struct {
	out output
	// tableVersion is the Table's apiVersion: meta.k8s.io/v1 or v1beta1.
	tableVersion string
}

// negotiate picks the first media range of accept that the server can
// produce, in the client's order as the API server does (kubectl lists
// them most preferred first and sends no q values). Supported: JSON, and
// JSON as=Table for g=meta.k8s.io v=v1 or v1beta1 when tables is true.
// Anything else (protobuf, YAML, aggregated discovery, PartialObjectMetadata)
// is skipped. ok is false when nothing is acceptable.
func negotiate(accept string, tables bool) (n negotiation, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return negotiation{}, true
	}
	for _, rng := range strings.Split(accept, ",") {
		typ, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
		if err != nil {
			continue
		}
		switch typ {
		case "application/json", "application/*", "*/*":
		default:
			continue
		}
		switch params["as"] {
		case "":
			return negotiation{}, true
		case "Table":
			v := params["v"]
			if tables && params["g"] == "meta.k8s.io" && (v == "v1" || v == "v1beta1") {
				return negotiation{out: outTable, tableVersion: "meta.k8s.io/" + v}, true
			}
		}
	}
	return negotiation{}, false
}

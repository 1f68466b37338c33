package gateway

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Feature gate names, as kube-apiserver spells them (PROTOCOL.md 10).
const (
	GateTranslateStreamClose  = "TranslateStreamCloseWebsocketRequests"
	GatePortForwardWebsockets = "PortForwardWebsockets"
)

// Gates are the resolved feature gates.
type Gates struct {
	// TranslateStreamClose lets the gateway translate WebSocket v5 exec and
	// attach to a SPDY-only upstream.
	TranslateStreamClose bool
	// PortForwardWebsockets lets the gateway unwrap the port-forward tunnel
	// toward a SPDY-only upstream.
	PortForwardWebsockets bool
}

var gateDefaults = map[string]bool{GateTranslateStreamClose: true, GatePortForwardWebsockets: true}

func resolveGates(over map[string]bool) (Gates, error) {
	g := Gates{TranslateStreamClose: true, PortForwardWebsockets: true}
	for k, v := range over {
		switch k {
		case GateTranslateStreamClose:
			g.TranslateStreamClose = v
		case GatePortForwardWebsockets:
			g.PortForwardWebsockets = v
		default:
			return g, fmt.Errorf("unknown feature gate %q (known: %s)", k, knownGates())
		}
	}
	return g, nil
}

func knownGates() string {
	names := make([]string, 0, len(gateDefaults))
	for k := range gateDefaults {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ParseFeatureGates reads the Kubernetes --feature-gates syntax,
// "Name=true,Other=false", into overrides for Options.FeatureGates.
func ParseFeatureGates(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("missing bool value for %s", kv)
		}
		k = strings.TrimSpace(k)
		if _, known := gateDefaults[k]; !known {
			return nil, fmt.Errorf("unrecognized feature gate: %s", k)
		}
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("invalid value of %s=%s, err: %w", k, v, err)
		}
		out[k] = b
	}
	return out, nil
}

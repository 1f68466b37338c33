package kube

import (
	"math"
	"strings"
	"testing"
)

func TestParseQuantity(t *testing.T) {
	for _, tt := range []struct {
		in   any
		want float64
		ok   bool
	}{
		{"500m", 0.5, true}, {"2", 2, true}, {"1.5Gi", 1.5 * (1 << 30), true}, {"128Mi", 128 << 20, true},
		{"1k", 1000, true}, {"2e3", 2000, true}, {"1E", 1e18, true}, {"100n", 100e-9, true}, {float64(3), 3, true},
		{"-1", -1, true}, {"abc", 0, false}, {"1.2.3", 0, false}, {"1Qi", 0, false}, {"", 0, false}, {true, 0, false},
	} {
		got, ok := ParseQuantity(tt.in)
		if ok != tt.ok || (ok && math.Abs(got-tt.want) > 1e-9*math.Abs(tt.want)+1e-15) {
			t.Errorf("ParseQuantity(%v) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestValidateResources: a container's requests and limits are
// quantities, not negative, no request over its limit, in the API
// server's words.
func TestValidateResources(t *testing.T) {
	for _, tt := range []struct {
		res  Resources
		want string
	}{
		{Resources{"limits": map[string]any{"cpu": "1", "memory": "1Gi"}, "requests": map[string]any{"cpu": "500m"}}, ""},
		{Resources{}, ""},
		{Resources{"limits": map[string]any{"cpu": "lots"}},
			`spec.containers[0].resources.limits[cpu]: Invalid value: "lots": quantities must match the regular expression`},
		{Resources{"requests": map[string]any{"memory": "-1"}}, `spec.containers[0].resources.requests[memory]: Invalid value: "-1": must be greater than or equal to 0`},
		{Resources{"limits": map[string]any{"cpu": "1"}, "requests": map[string]any{"cpu": "2"}},
			`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`},
		{Resources{"limits": "x"}, `spec.containers[0].resources.limits: Invalid value: must be a map of quantities`},
	} {
		res := tt.res
		p := &Pod{ObjectMeta: ObjectMeta{Name: "p"}, Spec: PodSpec{Containers: []Container{{Name: "c", Resources: &res}}}}
		err := p.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%v: %v, want %q", tt.res, err, tt.want)
		}
	}
}

// TestValidateServiceFamilies: a Service's IP families and traffic
// policy, as the API server of a single-stack IPv4 cluster checks them.
func TestValidateServiceFamilies(t *testing.T) {
	for _, tt := range []struct {
		spec ServiceSpec
		want string
	}{
		{ServiceSpec{IPFamilies: []string{"IPv4"}, IPFamilyPolicy: "SingleStack", InternalTrafficPolicy: "Local"}, ""},
		{ServiceSpec{IPFamilyPolicy: "PreferDualStack"}, ""},
		{ServiceSpec{IPFamilyPolicy: "RequireDualStack"}, `spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`},
		{ServiceSpec{IPFamilyPolicy: "Sometimes"}, `spec.ipFamilyPolicy: Unsupported value: "Sometimes"`},
		{ServiceSpec{IPFamilies: []string{"IPv4", "IPv6"}}, `spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster`},
		{ServiceSpec{IPFamilies: []string{"IPv5"}}, `spec.ipFamilies[0]: Unsupported value: "IPv5"`},
		{ServiceSpec{InternalTrafficPolicy: "Nearby"}, `spec.internalTrafficPolicy: Unsupported value: "Nearby": supported values: "Cluster", "Local"`},
	} {
		s := &Service{ObjectMeta: ObjectMeta{Name: "web"}, Spec: tt.spec}
		s.Spec.Ports = []ServicePort{{Port: 80}}
		err := s.Validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%+v: %v, want %q", tt.spec, err, tt.want)
		}
	}
}

// The answers are the real API server's (interop/apiserver
// TestSameQuantities compares them whole), quirks included.
func TestCanonicalQuantity(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "0.0": "0", "-0": "0", "500m": "500m", "0.5": "500m", ".5": "500m", "5.": "5.", "1000m": "1", "1500m": "1500m",
		"1.5": "1500m", "1000": "1k", "1500": "1500", "1e3": "1e3", "1.5e3": "1500", "12e2": "1200", "1E": "1E", "1000000": "1M",
		"1Gi": "1Gi", "1024Mi": "1Gi", "1536Mi": "1536Mi", "1.5Gi": "1536Mi", "0.5Ki": "512", "1Ki": "1Ki", "1023": "1023",
		"100Ki": "100Ki", "0.1": "100m", "1n": "1n", "0.1n": "1n", "1.0000000001": "1000000001n", "1u": "1u", "0.000001": "1u",
		"+1": "+1", "-1": "-1", "2e-3": "2e-3", "1e-9": "1e-9", "1e-10": "1e-9", "0.5Mi": "512Ki", "1.5Ki": "1536", "3e0": "3e0",
		"100M": "100M", "0.001k": "1",
	} {
		got, ok := CanonicalQuantity(in)
		if !ok || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, ok, want)
		}
	}
	// Requests and limits are rounded up to milli units first.
	for in, want := range map[string]string{"1n": "1m", "0.1n": "1m", "1.0000000001": "1001m", "1u": "1m", "0.000001": "1m",
		"1e-9": "1e-3", "1e-10": "1e-3", "1.25e-2": "13e-3", "1500u": "2m", "1500m": "1500m", "007": "007", "1.5Gi": "1536Mi"} {
		got, ok := ResourceQuantity(in)
		if !ok || got != want {
			t.Errorf("resource %q: %q %v, want %q", in, got, ok, want)
		}
	}
	// Long texts (the digits past what counts are read for whether they
	// are all zero, not computed with): the same answers as short ones.
	zeros := strings.Repeat("0", 1<<20)
	for in, want := range map[string]string{
		"0." + zeros + "1": "1m", "0." + zeros: "0", zeros + "1.5": "1500m", "1." + zeros: "1",
	} {
		if got, ok := ResourceQuantity(in); !ok || got != want {
			t.Errorf("resource, %d characters: %q %v, want %q", len(in), got, ok, want)
		}
	}
	for in, want := range map[string]string{
		"1." + zeros + "1e-3": "1000001e-9", "0." + strings.Repeat("0", 2005) + "1e2000": "1e-6", "0." + strings.Repeat("0", 1995) + "1e2000": "10e3",
		"0." + strings.Repeat("0", 2199) + "1e2000": "1e-9", "1." + strings.Repeat("0", 2199) + "1e3": "1000000000001e-9",
	} {
		if got, ok := CanonicalQuantity(in); !ok || got != want {
			t.Errorf("%d characters: %q %v, want %q", len(in), got, ok, want)
		}
	}
	if _, ok := CanonicalQuantity(strings.Repeat("9", 1<<20)); ok {
		t.Error("a megabyte of nines taken as a quantity")
	}
	for _, bad := range []string{"", "x", "1.2.3", ".", "1K", "1e", "1ki", "1Mb", "--1", "1 k"} {
		if got, ok := CanonicalQuantity(bad); ok {
			t.Errorf("%q taken as %q", bad, got)
		}
	}
}

// FuzzCanonicalQuantity: what reads as a quantity is written as one, of
// the same value (rounded up to nano units), and written again the same.
func FuzzCanonicalQuantity(f *testing.F) {
	for _, s := range []string{"0.5", "1.5Gi", "1e-10", "+007", "1536Mi", "8Ei", "1.25e-2", "-3k", ".5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64 {
			return
		}
		out, ok := CanonicalQuantity(s)
		if !ok {
			return
		}
		again, ok := CanonicalQuantity(out)
		if !ok || again != out {
			t.Fatalf("%q: %q, then %q %v", s, out, again, ok)
		}
		in, _ := ParseQuantity(s)
		got, _ := ParseQuantity(out)
		if diff := math.Abs(got - in); math.Abs(in) < 1e300 && diff > 1e-9*1.01+math.Abs(in)*1e-12 && !(strings.HasSuffix(s, "i") && in > math.MaxInt64) {
			t.Fatalf("%q (%g) written %q (%g)", s, in, out, got)
		}
		if r, ok := ResourceQuantity(s); !ok {
			t.Fatalf("%q: no resource quantity", s)
		} else if r2, _ := ResourceQuantity(r); r2 != r {
			t.Fatalf("%q: resource %q, then %q", s, r, r2)
		}
	})
}

package kube

import "testing"

// TestScaledBound: a rolling update's bounds in pods, as the Deployment
// controller resolves them: counts as given, percentages of the replicas
// rounded up for maxSurge and down for maxUnavailable, without overflow.
func TestScaledBound(t *testing.T) {
	for _, tt := range []struct {
		v        *IntOrString
		replicas int32
		up, down int32
	}{
		{nil, 4, 0, 0},
		{&IntOrString{Int: 3}, 10, 3, 3},
		{&IntOrString{IsString: true, Str: "25%"}, 4, 1, 1},
		{&IntOrString{IsString: true, Str: "25%"}, 2, 1, 0},
		{&IntOrString{IsString: true, Str: "25%"}, 1, 1, 0},
		{&IntOrString{IsString: true, Str: "25%"}, 0, 0, 0},
		{&IntOrString{IsString: true, Str: "100%"}, 7, 7, 7},
		{&IntOrString{IsString: true, Str: "0%"}, 7, 0, 0},
		{&IntOrString{IsString: true, Str: "200%"}, 3, 6, 6},
		{&IntOrString{IsString: true, Str: "99999999999999999999999%"}, 2147483647, 2147483647, 2147483647},
		{&IntOrString{IsString: true, Str: "x"}, 4, 0, 0},
		{&IntOrString{IsString: true, Str: "5"}, 4, 0, 0},
	} {
		if got := ScaledBound(tt.v, tt.replicas, true); got != tt.up {
			t.Errorf("%v of %d rounded up: %d, want %d", tt.v, tt.replicas, got, tt.up)
		}
		if got := ScaledBound(tt.v, tt.replicas, false); got != tt.down {
			t.Errorf("%v of %d rounded down: %d, want %d", tt.v, tt.replicas, got, tt.down)
		}
	}
}

package harness

import (
	"fmt"
	"os"
	"testing"
)

// PeersRequired reports whether a missing real peer (a kubectl release,
// an official client) fails the tests instead of skipping them. .ci/run
// sets PORTHOLE_PEERS=require, so a CI machine without a peer cannot pass
// by skipping it.
func PeersRequired() bool { return os.Getenv("PORTHOLE_PEERS") == "require" }

// MissingPeer skips t, or fails it when PeersRequired.
func MissingPeer(t testing.TB, format string, args ...any) {
	t.Helper()
	if PeersRequired() {
		t.Fatalf("PORTHOLE_PEERS=require: "+format, args...)
	}
	t.Skipf(format, args...)
}

// The kubectl releases the machine's kubectl packaging ships side by side:
// kubectl.1.27 ... kubectl.1.33.
const firstPackagedMinor, lastPackagedMinor = 27, 33

// MissingKubectls lists the packaged minors absent from ks.
func MissingKubectls(ks []Kubectl) []int {
	found := map[int]bool{}
	for _, k := range ks {
		found[k.Minor] = true
	}
	var missing []int
	for m := firstPackagedMinor; m <= lastPackagedMinor; m++ {
		if !found[m] {
			missing = append(missing, m)
		}
	}
	return missing
}

// RequireKubectls fails when peers are required and a release is missing.
func RequireKubectls(ks []Kubectl) error {
	if m := MissingKubectls(ks); len(m) > 0 && PeersRequired() {
		return fmt.Errorf("PORTHOLE_PEERS=require: kubectl releases 1.%v missing: install the kubectl package or build them with .ci/build-kubectl and set PORTHOLE_KUBECTL_DIR", m)
	}
	return nil
}

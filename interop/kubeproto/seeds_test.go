package kubeproto

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/porthole/porthole/kube/kubeproto"
)

// seedsEnv names the directory TestWriteFuzzSeeds writes to.
const seedsEnv = "PORTHOLE_WRITE_KUBEPROTO_SEEDS"

// TestWriteFuzzSeeds writes the real protobuf encodings of testObjects
// (client-go's, as TestToJSONMatchesKubernetes checks them) as the seed
// corpus of kube/kubeproto's FuzzToJSON, one file per object named after
// it, in the format `go test` writes. It runs only when
// PORTHOLE_WRITE_KUBEPROTO_SEEDS is set to the directory to write to, and
// is skipped otherwise. From interop/:
//
//	PORTHOLE_WRITE_KUBEPROTO_SEEDS=$PWD/../kube/kubeproto/testdata/fuzz/FuzzToJSON \
//		go test -count=1 -run TestWriteFuzzSeeds ./kubeproto
//
// (a relative directory is taken from interop/kubeproto, where the test
// runs).
func TestWriteFuzzSeeds(t *testing.T) {
	dir := os.Getenv(seedsEnv)
	if dir == "" {
		t.Skipf("set %s to the directory to write kube/kubeproto's FuzzToJSON seeds to", seedsEnv)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, o := range testObjects() {
		b := encodeProto(t, o.build(), o.gvk.GroupVersion())
		if _, err := kubeproto.ToJSON(b); err != nil {
			t.Errorf("%s: ToJSON: %v", o.name, err)
		}
		file := filepath.Join(dir, o.name)
		if err := os.WriteFile(file, corpusFile(b), 0o644); err != nil {
			t.Fatal(err)
		}
		// Read back as the fuzzing engine reads a corpus file.
		got, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if back, ok := parseCorpusFile(string(got)); !ok || !bytes.Equal(back, b) {
			t.Errorf("%s does not hold the encoding back:\n%s", file, got)
		}
		t.Logf("wrote %s: %d bytes of protobuf", file, len(b))
	}
}

// corpusFile is a Go fuzz corpus file of one []byte value.
func corpusFile(b []byte) []byte {
	return []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
}

// parseCorpusFile reads back the value of a corpusFile.
func parseCorpusFile(s string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(s, "go test fuzz v1\n[]byte(")
	if !ok {
		return nil, false
	}
	lit, ok := strings.CutSuffix(rest, ")\n")
	if !ok {
		return nil, false
	}
	v, err := strconv.Unquote(lit)
	return []byte(v), err == nil
}

package layout

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/porthole/porthole"

// layers lists package prefixes from the bottom up. A package's layer is that
// of its longest matching prefix.
var layers = [][]string{
	{"protocol", "kube", "internal/selfcert", "internal/s3test", "internal/initproc", "internal/machine"},
	{"stream", "internal/pump", "internal/gather", "internal/replay", "internal/hangup", "internal/freezer", "internal/idle", "internal/upgrade", "internal/registry", "internal/golden"},
	{"transport"},
	{"client"},
	{"node"},
	{"localrt", "nodeagent", "internal/streamtest"},
	{"audit"},
	{"gateway"},
	{"serve", "web"},
	{"internal/iostreams", "internal/cli"},
	{"cmd"},
}

func layerOf(pkg string) (int, bool) {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	best, bestLen := -1, -1
	for i, prefixes := range layers {
		for _, p := range prefixes {
			if (rel == p || strings.HasPrefix(rel, p+"/")) && len(p) > bestLen {
				best, bestLen = i, len(p)
			}
		}
	}
	return best, best >= 0
}

type goPackage struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(out)
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

func TestNoUpwardImports(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		from, ok := layerOf(p.ImportPath)
		if !ok {
			if p.ImportPath != module+"/internal/layout" {
				t.Errorf("%s is in no layer: add it to layers", p.ImportPath)
			}
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to, ok := layerOf(imp)
			if ok && to > from {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports must point down", p.ImportPath, from, imp, to)
			}
		}
	}
}

func TestLayerOf(t *testing.T) {
	tests := []struct {
		pkg  string
		want int
	}{
		{module + "/protocol/channel", 0},
		{module + "/kube", 0},
		{module + "/transport/spdy", 2},
		{module + "/node", 4},
		{module + "/internal/cli/serve", 9},
		{module + "/cmd/porthole", 10},
	}
	for _, tc := range tests {
		if got, _ := layerOf(tc.pkg); got != tc.want {
			t.Errorf("layerOf(%s): got %d, want %d", tc.pkg, got, tc.want)
		}
	}
	if _, ok := layerOf(module + "/nodex"); ok {
		t.Errorf("nodex must not match the node prefix")
	}
}

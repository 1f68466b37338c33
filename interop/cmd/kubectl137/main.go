// Command kubectl137 is kubectl built from the k8s.io/kubectl v0.37 module,
// so the interop tests can drive a client of the same release line as the
// client-go library they also link. The upstream kubectl main lives in
// k8s.io/kubernetes, which is too heavy to depend on; this file is the
// minimal equivalent: build the default root command and run it through
// component-base/cli, which sets up flags, logging and exit behaviour the
// way the release binary does.
//
// The harness stamps a version with
// -ldflags "-X k8s.io/component-base/version.gitVersion=v1.37.2" so that
// `kubectl137 version --client` reports the release it stands for.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	root := cmd.NewDefaultKubectlCommand()
	// RunNoErrOutput leaves error printing to us so kubectl's own
	// formatting (and exit code mapping, e.g. 137 for a killed command)
	// applies, exactly like the upstream binary.
	if err := cli.RunNoErrOutput(root); err != nil {
		util.CheckErr(err)
	}
}

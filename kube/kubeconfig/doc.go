// Package kubeconfig reads kubeconfig files as client-go's clientcmd does
// (KUBECONFIG merging, overrides from the command line, exec credential
// plugins, file references resolved against the file's own directory) and
// writes the small configs porthole hands out (serve, the gateway's first
// run).
package kubeconfig

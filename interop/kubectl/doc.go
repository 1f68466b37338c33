// Package kubectl holds the interop tests that drive real kubectl binaries
// (1.27 ... 1.33 from the system's kubectl package, and kubectl137 built
// from k8s.io/kubectl v0.37) against a running `porthole serve`, over every
// wire each version speaks. There is no non-test code here.
package kubectl

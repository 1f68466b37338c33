// Package kubeproto holds the interop tests of porthole's reader of the
// Kubernetes protobuf encoding (kube/kubeproto): real k8s.io/api objects,
// encoded by client-go's own protobuf serializer, must convert to the same
// porthole objects as their JSON encoding, malformed bodies must be refused
// without a panic, and a client-go typed clientset configured for protobuf
// must create, scale and delete against an in-process `porthole serve`.
// A test here also writes the encodings as seeds of kube/kubeproto's
// FuzzToJSON. There is no non-test code here.
package kubeproto

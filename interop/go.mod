module github.com/porthole/porthole/interop

go 1.26.0

require (
	github.com/porthole/porthole v0.0.0
	k8s.io/apimachinery v0.37.2
	k8s.io/apiserver v0.37.2
	k8s.io/client-go v0.37.2
	k8s.io/component-base v0.37.2
	k8s.io/cri-streaming v0.37.2
	k8s.io/kubectl v0.37.2
	k8s.io/streaming v0.37.2
)

replace github.com/porthole/porthole => ../

//go:build tools

// Package pins keeps the Kubernetes peer modules the interop tests and
// reference servers rely on in go.mod even while no test imports them yet,
// so every helper working in interop/ resolves the same v0.37.2 set. It is
// excluded from normal builds by the tools build tag.
package pins

import (
	_ "k8s.io/apimachinery/pkg/util/httpstream"
	_ "k8s.io/apiserver/pkg/util/proxy"
	_ "k8s.io/client-go/tools/remotecommand"
	_ "k8s.io/cri-streaming/pkg/streaming"
	_ "k8s.io/streaming/pkg/httpstream"
)

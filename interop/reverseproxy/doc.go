// Package reverseproxy runs kubectl through nginx, a real reverse proxy,
// in front of porthole serve: the world WebSocket streaming was made for
// (Kubernetes 1.31 moved kubectl to WebSockets because proxies and load
// balancers do not speak SPDY; nginx passes both as HTTP upgrades). nginx
// terminates TLS with its own certificate and proxies to serve's HTTPS,
// with an idle timeout shorter than the quiet cases: serve's keep-alive
// pings must keep quiet sessions and forwards alive through it, spliced or
// bridged (serve --session-join). nginx is Debian's (nginx-light, installed
// by .ci/run).
package reverseproxy

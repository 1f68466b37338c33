# The README's two commands: `make serve` (the demo) and `make test` (everything CI runs).
GO ?= go

.PHONY: build serve test unit interop interop-deps soak bench fuzz lint web web-deps web-check image

serve:
	$(GO) run ./cmd/porthole serve

# build writes ./porthole, the one binary (client, gateway, serve).
build:
	$(GO) build -o porthole ./cmd/porthole

# test runs the whole suite: lint, the web page's rebuild check, unit tests
# with the race detector (the browser test among them), then the interop
# module against the real Kubernetes peers.
test: lint web-check unit interop

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd interop && $(GO) vet ./...
	cd interop/controlplane && $(GO) vet ./...
	@# kubectl users are on macOS and Windows too: the binary must build there.
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/porthole
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/porthole

# web-deps installs the web terminal's build and browser-test tools
# (esbuild, xterm.js, playwright-core) exactly as package-lock.json pins them.
web-deps:
	cd web && npm ci --no-audit --no-fund

# web rebuilds web/dist, the committed page that porthole embeds.
web: web-deps
	cd web && node build.mjs

# web-check rebuilds the page into a temporary directory and fails when the
# committed web/dist differs from what the sources build to.
web-check: web-deps
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd web && node build.mjs --outdir="$$tmp") && \
	  if ! diff -r web/dist "$$tmp" >/dev/null; then \
	    echo "web/dist is stale: run 'make web' and commit web/dist"; diff -rq web/dist "$$tmp"; exit 1; \
	  fi

# unit includes the browser tests (web.TestBrowser*), which need web-deps and Chromium:
# declared, so that `make unit` alone or `make -j test` on a fresh clone has them.
unit: web-deps
	$(GO) test -race -count=1 ./...

# interop-deps installs the official JavaScript client exactly as its lockfile pins it.
interop-deps:
	cd interop/officialclients/js && npm ci --no-audit --no-fund

# The control plane (kube-apiserver and etcd from k8s.io/kubernetes, a module of its
# own) is compiled first, alone: the apiserver suite then only links it, and the
# other suites do not run beside a ten-minute compile.
# web-deps: interop/oidc drives Chromium through web/'s playwright-core.
interop: interop-deps web-deps
	cd interop/controlplane && $(GO) build -o /dev/null .
	cd interop && $(GO) test -count=1 -timeout 60m ./...

# soak runs SOAK_SESSIONS randomized sessions (clients, wires, operations,
# gateway paths, injected faults) against porthole serve; SOAK_SEED repeats
# a run. `make interop` runs the same test with its small default (200).
SOAK_SESSIONS ?= 10000
SOAK_SEED ?= 0
soak:
	cd interop && $(GO) test -count=1 -timeout 120m -run TestSoak -v ./soak -args -sessions=$(SOAK_SESSIONS) -seed=$(SOAK_SEED)

# bench prints the side-by-side table: porthole against the kubelet's streaming library,
# each row with its goal; BENCH_ARGS="-quick -json bench.json" for a two-minute look and
# the figures as JSON.
BENCH_ARGS ?=
bench:
	cd interop && $(GO) run ./cmd/bench $(BENCH_ARGS)

# fuzz runs every fuzz target briefly; failures land in testdata/fuzz.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

# image packs a static porthole (web terminal embedded) into porthole.oci.tar, an OCI
# image archive, without Docker: no base, user 65532, entrypoint /porthole gateway.
# Load it with e.g. `skopeo copy oci-archive:porthole.oci.tar docker://REGISTRY/porthole:TAG`.
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w" -o porthole-linux-amd64 ./cmd/porthole
	cd interop && $(GO) run ./cmd/ociimage -binary ../porthole-linux-amd64 -out ../porthole.oci.tar

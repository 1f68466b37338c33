# The README's two commands: `make serve` (the demo) and `make test` (everything CI runs).
GO ?= go

.PHONY: serve test unit interop bench fuzz lint

serve:
	$(GO) run ./cmd/porthole serve

# test runs the whole suite: lint, unit tests with the race detector, then the
# interop module against the real Kubernetes peers.
test: lint unit interop

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd interop && $(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

interop:
	cd interop && $(GO) test -count=1 -timeout 60m ./...

# bench prints the side-by-side table: porthole against the kubelet's streaming library.
bench:
	cd interop && $(GO) run ./cmd/bench

# fuzz runs every fuzz target briefly; failures land in testdata/fuzz.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 20s $$pkg || exit 1; \
	  done; \
	done

# The two commands: `make run` runs the chat on embedded defaults,
# `make test` runs every test. Both install what is missing first.
.PHONY: run test deps web build vet fuzz cluster bench faults

# COUNT is how many times `make faults` runs each fault scenario.
COUNT ?= 1

run: deps web
	go run ./cmd/globalchat

# The fault suite runs alone, after the other packages: it judges timing
# under load and must not share the machine with another load test.
test: deps web vet
	go test -count=1 -timeout 12m $$(go list ./... | grep -v /faults$$)
	go test -count=1 -timeout 12m ./faults/
	./scripts/fuzz.sh

# Every fault scenario COUNT times, with the figures printed
# (docs/operations.md, "Fault suite").
faults: deps web
	go test -v -count=$(COUNT) -timeout 0 -run TestFaults ./faults/

deps:
	./scripts/deps.sh

web:
	./scripts/web.sh

build: web
	go build -ldflags "-X main.version=$$(git describe --tags --always --dirty) -X main.commit=$$(git rev-parse HEAD)" -o bin/globalchat ./cmd/globalchat

# staticcheck is pinned: a new release may add checks, which a change of
# this line (with what they find fixed) brings in.
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...
	go run $(STATICCHECK) ./...

fuzz:
	./scripts/fuzz.sh

cluster: deps web
	./scripts/cluster.sh

bench: deps web
	./scripts/bench.sh

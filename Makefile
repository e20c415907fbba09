# The two commands: `make run` runs the chat on embedded defaults,
# `make test` runs every test. Both install what is missing first.
.PHONY: run test deps web build vet fuzz cluster bench

run: deps web
	go run ./cmd/globalchat

test: deps web vet
	go test -count=1 -timeout 12m ./...
	./scripts/fuzz.sh

deps:
	./scripts/deps.sh

web:
	./scripts/web.sh

build: web
	go build -ldflags "-X main.version=$$(git describe --tags --always --dirty) -X main.commit=$$(git rev-parse HEAD)" -o bin/globalchat ./cmd/globalchat

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...

fuzz:
	./scripts/fuzz.sh

cluster: deps web
	./scripts/cluster.sh

bench: deps web
	./scripts/bench.sh

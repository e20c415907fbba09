#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 3s) each, one after the
# other: `go test -fuzz` takes one target of one package at a time.
# A target that finds a crash fails the script; the input is kept under
# the package's testdata/fuzz/ for `go test` to replay.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-3s}"

# package target
targets=(
	"./socketio/engineio FuzzDecodePayload"
	"./socketio/engineio FuzzDecodeText"
	"./socketio FuzzDecodePacket"
	"./socketio FuzzInsertBinary"
	"./socketio FuzzServer"
)

for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $name ($pkg) for $FUZZTIME"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"
done

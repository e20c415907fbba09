#!/usr/bin/env bash
# Runs every fuzz target for FUZZTIME (default 50000x: that many inputs,
# a few seconds each) one after the other: `go test -fuzz` takes one
# target of one package at a time. The default counts inputs rather than
# seconds because Go 1.26's fuzz coordinator can fail a run that found
# nothing with "context deadline exceeded" when a duration runs out
# (golang/go#75804, fixed in Go 1.27); a count never sets that deadline.
# A target that finds a crash fails the script; the input is kept under
# the package's testdata/fuzz/ for `go test` to replay.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-50000x}"

# package target
targets=(
	"./socketio/engineio FuzzDecodePayload"
	"./socketio/engineio FuzzDecodeText"
	"./socketio FuzzDecodePacket"
	"./socketio FuzzInsertBinary"
	"./socketio FuzzServer"
	"./socketio FuzzMsgpackNamespace"
)

for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	echo "fuzz: $name ($pkg) for $FUZZTIME"
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$pkg"
done

// Package bandwidth keeps the instance's traffic accounting: bytes and
// frames in and out per endpoint, chat messages in and out, connections
// opened and closed. The hot path only adds to atomic counters (Meter); a
// Flusher takes a Sample of them every second and hands it to a Store,
// which keeps the cluster's figures (redis.Bandwidth: the reference
// design's bandwidth:* keys) or this instance's (Memory, the embedded
// default). The Meter is also a Prometheus collector.
//
// It imports no implementation package.
package bandwidth

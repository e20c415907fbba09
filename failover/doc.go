// Package failover keeps the chat going while Redis is away, and brings
// it back onto Redis when Redis returns, without ever handing one seq to
// two messages.
//
// Its Bus wraps the Redis bus (the primary) and a store that can be the
// sequencer of record (globalchat.Sequencer). While Redis answers, the
// primary orders and carries messages. When a publish fails (refused, or
// no answer within PublishTimeout), or Redis stops answering pings, the
// instance moves to the store: it fences the store's counter (above every
// seq it has seen, by Gap, so that messages Redis numbered just before it
// went away collide with nothing), appends each batch of messages in one
// transaction that takes the next seqs under the epoch it read when it
// fenced, and polls the store for what every instance appended, so that
// all instances keep one order through the outage. Once Redis answers
// again it ends the epoch (every later append under it is refused, so no
// instance appends among Redis's next seqs) and raises Redis's counter to
// where the store stopped.
//
// Seqs are therefore not dense: they jump by Gap when the cluster moves to
// the store, and those holes are final. One deliverer takes what every
// source delivers (Redis, the store poller, gap filling) and hands each
// seq to the chat once; one that arrives below the highest already
// delivered is late and goes out without a recovery offset, so a client's
// offset never moves back.
//
// It imports the domain package and internal/batch only.
package failover

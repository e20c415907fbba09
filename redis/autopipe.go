package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat/internal/batch"
)

// autoPipeline sends the commands of concurrent callers to Redis in one
// pipeline, so that under load many calls share one round trip (one write
// and one read), as the SQL stores group their commits. Each caller adds
// its commands to the pipeline and, once do returns, reads their results;
// one caller's error reply does not fail the others.
type autoPipeline struct {
	client *goredis.Client
	batch  *batch.Batcher[func(goredis.Pipeliner)]
}

func newAutoPipeline(client *goredis.Client) *autoPipeline {
	a := &autoPipeline{client: client}
	a.batch = batch.New(a.exec, batch.Options{})
	return a
}

// do runs queue (which adds commands to p) in the next pipeline and waits
// for its replies, which the caller reads from its commands. It returns an
// error when there are none: Redis did not answer (wrapping
// globalchat.ErrUnavailable), the caller gave up, or the pipeline is
// closed.
func (a *autoPipeline) do(ctx context.Context, op string, queue func(p goredis.Pipeliner)) error {
	if err := a.batch.Do(ctx, queue); err != nil {
		return batchError(op, err)
	}
	return nil
}

func (a *autoPipeline) exec(ctx context.Context, queues []func(goredis.Pipeliner)) error {
	p := a.client.Pipeline()
	for _, queue := range queues {
		queue(p)
	}
	ctx, cancel := withTimeout(ctx, defaultTimeout)
	defer cancel()
	_, err := p.Exec(ctx)
	var reply goredis.Error
	if err == nil || errors.As(err, &reply) {
		return nil // an error reply belongs to its command, for its caller
	}
	// Nothing came back (Redis down, timeout): every caller gets it, and a
	// closing pipeline fails what is still pending instead of retrying.
	return unavailable("pipeline", err)
}

// close sends what is pending and stops.
func (a *autoPipeline) close() { a.batch.Close() }

// runScript runs script in a pipeline; a Redis that does not know the
// script yet (restarted, or flushed) gets it with EVAL, outside.
func (a *autoPipeline) runScript(ctx context.Context, op string, script *goredis.Script, keys []string, args ...any) (*goredis.Cmd, error) {
	var cmd *goredis.Cmd
	if err := a.do(ctx, op, func(p goredis.Pipeliner) { cmd = script.EvalSha(ctx, p, keys, args...) }); err != nil {
		return nil, err
	}
	if goredis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = script.Run(ctx, a.client, keys, args...)
	}
	return cmd, nil
}

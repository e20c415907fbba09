package main

import (
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// logState says at start what this instance runs on, one line per
// dependency the stores do not already announce, without secrets: the
// reference design's troubleshooting looks for "Redis IoAdapter
// configured" in the logs.
func logState(log *slog.Logger, cfg config, redisOn bool, mode string) {
	if cfg.RedisURL == "" {
		log.Info("in-memory state: bus, presence, rate limits and sessions of this instance alone (no REDIS_URL)", "mode", mode)
		return
	}
	attrs := []any{"mode", mode, "instance", cfg.InstanceID}
	if opt, err := goredis.ParseURL(cfg.RedisURL); err == nil {
		attrs = append(attrs, "addr", opt.Addr, "db", opt.DB, "user", opt.Username, "tls", opt.TLSConfig != nil)
	}
	if redisOn {
		log.Info("redis connected: Redis IoAdapter configured (bus, presence, rate limits, sessions, bandwidth:* keys)", attrs...)
		return
	}
	log.Warn("redis configured but not answering: in-memory state until it does", attrs...)
}

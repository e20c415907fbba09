package redis

import (
	"embed"

	goredis "github.com/redis/go-redis/v9"
)

//go:embed scripts/*.lua
var scriptFiles embed.FS

// loadScript returns the embedded script name.lua, run with EVALSHA and
// EVAL when Redis does not know it yet.
func loadScript(name string) *goredis.Script {
	src, err := scriptFiles.ReadFile("scripts/" + name + ".lua")
	if err != nil {
		// The file is embedded at build time: only a typo gets here, and
		// every test would show it.
		panic("redis: no embedded script " + name)
	}
	return goredis.NewScript(string(src))
}

// Command globalchat is the global chat server: one room, reached over
// Socket.IO, with its web client, REST API, health and metrics. With no
// configuration it runs on embedded defaults (SQLite, in-memory state);
// REDIS_URL and MYSQL_DSN turn on the multi-instance production mode.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "globalchat:", err)
		os.Exit(1)
	}
}

// run starts the server and serves until ctx is done, then shuts down
// gracefully. When ready is not nil it receives the listening address.
// -help and -version print to stdout and return nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, ready chan<- string) error {
	cfg, err := loadConfig(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout)
		return nil
	case errors.Is(err, errVersion):
		fmt.Fprintln(stdout, versionString())
		return nil
	case err != nil:
		return err
	}
	log := cfg.logger(stderr)
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	return srv.serve(ctx, ready)
}

package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/globalchat/globalchat"
)

var _ globalchat.Presence = (*Presence)(nil)

// errSocketTaken is presence_add.lua's {-1}: the socket id is another
// user's.
var errSocketTaken = errors.New("redis: socket id belongs to another user")

// PresenceOptions configures a Presence. Zero values take the defaults.
type PresenceOptions struct {
	InstanceID string        // this instance; default a random id
	Heartbeat  time.Duration // how often the instance says it is alive; default 10s
	DeadAfter  time.Duration // silence after which an instance is dead; default 30s
	SweepEvery time.Duration // how often orphaned entries are swept; default 5m
	Timeout    time.Duration // one call to Redis; default 3s
	// OnLeft is called, from the reaper's goroutine, for each user who
	// left without a Remove: because the instance that held its last
	// connection died, or its keys expired; or at Close, from several
	// goroutines at once. count is the number of users online after it.
	OnLeft func(u globalchat.User, count int)
	// OnLost is called, from the reaper's goroutine, after this instance
	// found its registration gone (Redis lost its data, or the instance
	// was reaped) and registered its sockets again: what else it keeps in
	// Redis (recovery sessions) needs writing again too.
	OnLost func()
	Logger *slog.Logger
}

// Presence tracks who is online across instances. Redis holds, for each
// connection, global-chat:user-socket:{socketId}; for each user, the set
// of its sockets on every instance and the global-chat:user-online hash;
// and the sets of users online. Add and Remove are Lua scripts, so "first"
// and "last" are right when tabs of one user open and close on several
// instances at once.
//
// Each instance also keeps the set of its own sockets and a heartbeat.
// When an instance dies without Close, the others see its heartbeat stop
// and remove its sockets (the reaper), so its users leave within DeadAfter
// plus one Heartbeat. Keys that would otherwise live forever carry a TTL of
// three DeadAfter, refreshed by the heartbeat of an instance that uses them.
type Presence struct {
	client *goredis.Client
	opts   PresenceOptions
	keyTTL time.Duration
	log    *slog.Logger

	addScript, removeScript, heartbeatScript *goredis.Script
	forgetScript, pruneUserScript            *goredis.Script
	pruneNamesScript                         *goredis.Script
	pipe                                     *autoPipeline // Add and Remove share round trips

	mu      sync.Mutex
	local   map[string]globalchat.Conn // this instance's sockets
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when the loop has ended
}

// NewPresence returns a Presence on client. Add, Remove and Online work at
// once; Start runs the heartbeat and the reaper.
func NewPresence(client *goredis.Client, opts PresenceOptions) *Presence {
	if opts.InstanceID == "" {
		opts.InstanceID = uuid.NewString()
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 10 * time.Second
	}
	if opts.DeadAfter <= 0 {
		opts.DeadAfter = 30 * time.Second
	}
	// One late heartbeat must not make an instance look dead.
	opts.DeadAfter = max(opts.DeadAfter, 2*opts.Heartbeat)
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = 5 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.OnLeft == nil {
		opts.OnLeft = func(globalchat.User, int) {}
	}
	if opts.OnLost == nil {
		opts.OnLost = func() {}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Presence{
		client:           client,
		opts:             opts,
		keyTTL:           3 * opts.DeadAfter,
		log:              opts.Logger,
		addScript:        loadScript("presence_add"),
		removeScript:     loadScript("presence_remove"),
		heartbeatScript:  loadScript("presence_heartbeat"),
		forgetScript:     loadScript("presence_forget_instance"),
		pruneUserScript:  loadScript("presence_prune_user"),
		pruneNamesScript: loadScript("presence_prune_names"),
		pipe:             newAutoPipeline(client),
		local:            make(map[string]globalchat.Conn),
	}
}

// Add implements globalchat.Presence. A socket id that was another user's
// moves to this one.
func (p *Presence) Add(ctx context.Context, c globalchat.Conn) (bool, int, error) {
	first, count, err := p.add(ctx, c)
	if errors.Is(err, errSocketTaken) {
		if _, err := p.Remove(ctx, c.SocketID); err != nil {
			return false, 0, err
		}
		first, count, err = p.add(ctx, c)
	}
	if err != nil {
		return false, 0, err
	}
	return first, count, nil
}

// add runs presence_add.lua. The socket is known locally before the
// script runs, so that a reaper of this instance's id (at Start) never
// takes it for a leftover; it is forgotten again if the script fails.
func (p *Presence) add(ctx context.Context, c globalchat.Conn) (first bool, count int, err error) {
	p.mu.Lock()
	prev, had := p.local[c.SocketID]
	p.local[c.SocketID] = c
	p.mu.Unlock()
	defer func() {
		if err != nil {
			p.mu.Lock()
			if had {
				p.local[c.SocketID] = prev
			} else {
				delete(p.local, c.SocketID)
			}
			p.mu.Unlock()
		}
	}()
	ctx, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	keys := socketKeys(c.SocketID, c.User.ID, p.opts.InstanceID)
	cmd, err := p.pipe.runScript(ctx, "presence add", p.addScript, keys, c.SocketID, c.User.ID, c.User.Name,
		time.Now().UnixMilli(), p.keyTTL.Milliseconds(), p.opts.InstanceID)
	if err != nil {
		return false, 0, err
	}
	res, err := cmd.Int64Slice()
	if err != nil {
		return false, 0, unavailable("presence add", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("redis: presence add: unexpected reply %v", res)
	}
	if res[0] < 0 {
		return false, 0, errSocketTaken
	}
	return res[0] == 1, int(res[1]), nil
}

// socketKeys are the KEYS of presence_add.lua and presence_remove.lua.
func socketKeys(socketID, userID, instanceID string) []string {
	return []string{
		keyUserSocket(socketID), keyUserSockets(userID), keyUserOnline(userID),
		keyOnlineUsers, keyOnlineNames, keyInstanceSockets(instanceID), keySocketInstance(socketID),
	}
}

// Remove implements globalchat.Presence.
func (p *Presence) Remove(ctx context.Context, socketID string) (globalchat.Departure, error) {
	d, err := p.removeSocket(ctx, p.opts.InstanceID, socketID)
	if err == nil {
		p.mu.Lock()
		delete(p.local, socketID)
		p.mu.Unlock()
	}
	return d, err
}

// removeSocket removes a socket held by instance: it reads the socket's
// user, then runs the script, which checks it is still that user's.
func (p *Presence) removeSocket(ctx context.Context, instance, socketID string) (globalchat.Departure, error) {
	ctx, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var get *goredis.StringCmd
	if err := p.pipe.do(ctx, "presence remove", func(pp goredis.Pipeliner) { get = pp.Get(ctx, keyUserSocket(socketID)) }); err != nil {
		return globalchat.Departure{}, err
	}
	userID, err := get.Result()
	if errors.Is(err, goredis.Nil) {
		// Unknown: still drop it from the instance's set if it lingers.
		err = p.client.SRem(ctx, keyInstanceSockets(instance), socketID).Err()
		if err != nil {
			return globalchat.Departure{}, unavailable("presence remove", err)
		}
		count, err := p.client.SCard(ctx, keyOnlineUsers).Result()
		return globalchat.Departure{Count: int(count)}, unavailable("presence remove", err)
	}
	if err != nil {
		return globalchat.Departure{}, unavailable("presence remove", err)
	}
	cmd, err := p.pipe.runScript(ctx, "presence remove", p.removeScript, socketKeys(socketID, userID, instance), socketID, userID, instance)
	if err != nil {
		return globalchat.Departure{}, err
	}
	res, err := cmd.Slice()
	if err != nil {
		return globalchat.Departure{}, unavailable("presence remove", err)
	}
	if len(res) != 4 {
		return globalchat.Departure{}, fmt.Errorf("redis: presence remove: unexpected reply %v", res)
	}
	removed, _ := res[0].(int64)
	isLast, _ := res[1].(int64)
	n, _ := res[2].(int64)
	name, _ := res[3].(string)
	if removed != 1 {
		return globalchat.Departure{Count: int(n)}, nil
	}
	return globalchat.Departure{User: globalchat.User{ID: userID, Name: name}, Known: true, Last: isLast == 1, Count: int(n)}, nil
}

// Online implements globalchat.Presence: users sorted by name (bytewise),
// then id. Names are listed without any NUL byte they held.
func (p *Presence) Online(ctx context.Context, limit int) (int, []globalchat.User, error) {
	ctx, cancel := withTimeout(ctx, p.opts.Timeout)
	defer cancel()
	var countCmd *goredis.IntCmd
	var namesCmd *goredis.StringSliceCmd
	_, err := p.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		countCmd = pipe.SCard(ctx, keyOnlineUsers)
		if limit > 0 {
			namesCmd = pipe.ZRange(ctx, keyOnlineNames, 0, int64(limit-1))
		}
		return nil
	})
	if err != nil {
		return 0, nil, unavailable("online", err)
	}
	if namesCmd == nil {
		return int(countCmd.Val()), nil, nil
	}
	users := make([]globalchat.User, 0, len(namesCmd.Val()))
	for _, m := range namesCmd.Val() {
		name, id, ok := strings.Cut(m, "\x00")
		if ok {
			users = append(users, globalchat.User{ID: id, Name: name})
		}
	}
	return int(countCmd.Val()), users, nil
}

// localSockets returns a snapshot of this instance's sockets.
func (p *Presence) localSockets() []globalchat.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	conns := make([]globalchat.Conn, 0, len(p.local))
	for _, c := range p.local {
		conns = append(conns, c)
	}
	return conns
}

func (p *Presence) isLocal(socketID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.local[socketID]
	return ok
}

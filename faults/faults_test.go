package faults

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/globalchat/globalchat/internal/testenv"
)

// base is the traffic: 6 senders at 5 msg/s each.
const baseRate = 5

// senderGapLimit is the longest a sender may go without an ok ack while
// Redis or MySQL alone is down.
const senderGapLimit = 6 * time.Second

// settle is how long after the last fault action late deliveries still
// count as part of the outage.
const settle = 10 * time.Second

// scenario is one fault story. inject runs while the driver sends; it
// returns the outage windows and the time of the last fault action.
type scenario struct {
	name      string
	redisDown bool // the instances start without Redis
	rate      int
	send      time.Duration
	gaps      bool // Redis or MySQL down alone: sender gaps are limited
	inject    func(c *cluster, d *driver) (outages []window, lastHeal time.Time)
}

var scenarios = []scenario{
	{name: "RedisKill", rate: baseRate, send: 24 * time.Second, gaps: true, inject: redisKill},
	{name: "RedisPause", rate: baseRate, send: 28 * time.Second, gaps: true, inject: redisPause},
	{name: "MariaDBKill", rate: baseRate, send: 28 * time.Second, gaps: true, inject: mariadbKill},
	{name: "RedisDownAtStart", redisDown: true, rate: baseRate, send: 20 * time.Second, gaps: true, inject: redisLate},
	{name: "RedisFlushThenInstanceKill", rate: baseRate, send: 18 * time.Second, inject: flushThenKill},
	{name: "InstanceKill", rate: baseRate, send: 18 * time.Second, inject: instanceKill},
	{name: "RollingRestart", rate: baseRate, send: 26 * time.Second, inject: rolling},
	{name: "RedisKill10x", rate: 10 * baseRate, send: 24 * time.Second, gaps: true, inject: redisKill},
}

func TestFaults(t *testing.T) {
	testenv.LoadLock(t)
	mariadb := testenv.MariaDB(t)
	for i, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			run(t, sc, mariadb, fmt.Sprintf("faults_%d", i))
		})
	}
}

// run starts the world, drives traffic, injects the faults and judges.
func run(t *testing.T, sc scenario, mariadb *testenv.MariaDBServer, db string) {
	c := newCluster(t, mariadb, db, sc.redisDown)
	t.Logf("servers up in %v", time.Since(c.begin).Round(time.Millisecond))
	d := startDriver(t, c.nginx.URL(), c.logDir, traffic{rate: sc.rate, send: sc.send, quiet: 8 * time.Second})
	t.Logf("driver ready in %v", time.Since(c.begin).Round(time.Millisecond))
	outages, lastHeal := sc.inject(c, d)
	recs := untilEnd(d.wait())
	t.Logf("driver done in %v", time.Since(c.begin).Round(time.Millisecond))
	rows := readRows(t, c.dsn)
	limit := time.Duration(0)
	if sc.gaps {
		limit = senderGapLimit
	}
	v := judge(judgement{recs: recs, rows: rows, outages: outages, lastHeal: lastHeal, maxGap: limit})
	t.Logf("%s: %s", sc.name, v)
	if len(v.problems) > 0 {
		t.Errorf("%s failed:\n%s", sc.name, diagnosis(v, c))
	}
}

// untilEnd drops what the driver recorded after its end (its own closing).
func untilEnd(recs []record) []record {
	for i, r := range recs {
		if r.Kind == "end" {
			return recs[:i]
		}
	}
	return recs
}

// outage returns the window from from to the healing action plus settle.
func outage(from, heal time.Time) []window { return []window{{from, heal.Add(settle)}} }

// downUp is a fault that begins 4 s into the traffic and is repaired
// at upAt.
func downUp(upAt time.Duration, down, up func(c *cluster)) func(*cluster, *driver) ([]window, time.Time) {
	return func(c *cluster, d *driver) ([]window, time.Time) {
		d.at(4 * time.Second)
		from := time.Now()
		down(c)
		d.at(upAt)
		up(c)
		heal := time.Now()
		return outage(from, heal), heal
	}
}

var (
	redisKill   = downUp(14*time.Second, func(c *cluster) { c.redis.Kill() }, func(c *cluster) { c.redis.Restart() })
	redisPause  = downUp(19*time.Second, func(c *cluster) { c.redis.Pause() }, func(c *cluster) { c.redis.Resume() })
	mariadbKill = downUp(19*time.Second, func(c *cluster) { c.db.Kill() }, func(c *cluster) { c.db.Restart() })
)

func redisLate(c *cluster, d *driver) ([]window, time.Time) {
	d.at(8 * time.Second)
	c.redis.Restart()
	heal := time.Now()
	return outage(c.begin, heal), heal
}

// killInstance SIGKILLs instance i 6 s into the traffic (after before,
// when set, at 4 s) and restarts it at 9 s.
func killInstance(i int, before func(c *cluster)) func(*cluster, *driver) ([]window, time.Time) {
	return func(c *cluster, d *driver) ([]window, time.Time) {
		d.at(4 * time.Second)
		from := time.Now()
		if before != nil {
			before(c)
			d.at(6 * time.Second)
		}
		c.instances[i].Stop(syscall.SIGKILL)
		d.at(9 * time.Second)
		c.restart(c.instances[i])
		heal := time.Now()
		return outage(from, heal), heal
	}
}

var (
	flushThenKill = killInstance(0, func(c *cluster) { c.redis.FlushAll() })
	instanceKill  = killInstance(1, nil)
)

// rolling restarts the instances one after the other, each with the
// default drain (about 3.5 s from SIGTERM to exit) and 2 s up before the
// next: the last restart ends about 18 s into the 26 s of sending, so
// every drain happens under traffic.
func rolling(c *cluster, d *driver) ([]window, time.Time) {
	d.at(4 * time.Second)
	from := time.Now()
	for _, in := range c.instances {
		in.Stop(syscall.SIGTERM)
		c.restart(in)
		time.Sleep(2 * time.Second)
	}
	heal := time.Now()
	c.t.Logf("rolling restart done %.1fs into the sending", heal.Sub(d.ready).Seconds())
	return outage(from, heal), heal
}

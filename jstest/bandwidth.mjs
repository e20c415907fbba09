// Three real globalchat instances on one Redis (SQLite each): the traffic
// accounting's bandwidth:* keys hold the cluster's figures, as the test's
// own clients counted them (cmd/globalchat/bandwidth_test.go starts
// redis-server). Env: GLOBALCHAT_BIN, REDIS_URL, REDIS_PORT, PORTS (three,
// comma-separated), DATA_DIR.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Transport, transports } from "engine.io-client";
import { io } from "socket.io-client";
import { assert, once, run, sleep, until } from "./lib.mjs";
import { Server } from "./server.mjs";

const env = process.env;
const WINDOW = 5; // seconds, BANDWIDTH_WINDOW
const instances = env.PORTS.split(",").map((port, i) => new Server({
  PORT: port, INSTANCE_ID: `bw${i + 1}`, REDIS_URL: env.REDIS_URL, SQLITE_PATH: `${env.DATA_DIR}/i${i}.db`,
  RATE_LIMIT_PER_MINUTE: "10000", BANDWIDTH_INTERVAL: "1s", BANDWIDTH_WINDOW: `${WINDOW}s`,
}));

const redis = (...args) =>
  execFileSync("redis-cli", ["-p", env.REDIS_PORT, "--raw", ...args], { encoding: "utf8" }).trim();
const hgetall = (key) => {
  const lines = redis("HGETALL", key).split("\n");
  const out = {};
  for (let i = 0; i + 1 < lines.length; i += 2) out[lines[i]] = Number(lines[i + 1]);
  return out;
};

// What the clients sent and received, as Engine.IO payloads: each
// WebSocket message's payload, each polling request's and response's
// body. Counted in the transports' prototypes, before any client exists.
const counted = { websocket: { in: 0, out: 0 }, polling: { in: 0, out: 0 } };
const size = (d) => (typeof d === "string" ? Buffer.byteLength(d, "utf8") : d.byteLength);
function owner(proto, name) {
  while (proto && !Object.hasOwn(proto, name)) proto = Object.getPrototypeOf(proto);
  return proto;
}
function wrap(proto, name, count) {
  const o = owner(proto, name);
  const orig = o[name];
  o[name] = function (...args) {
    count(this, args);
    return orig.apply(this, args);
  };
}
const kind = (t) => (t.name === "websocket" ? "websocket" : "polling");
// The server's received bytes are the clients' sent ones, and so on.
wrap(Transport.prototype, "onData", (t, [d]) => (counted[kind(t)].out += size(d)));
wrap(owner(transports.polling.prototype, "onData"), "onData", (t, [d]) => {
  if (owner(transports.polling.prototype, "onData") !== Transport.prototype) counted.polling.out += size(d);
});
wrap(transports.websocket.prototype, "doWrite", (t, [, d]) => (counted.websocket.in += size(d)));
wrap(transports.polling.prototype, "doWrite", (t, [d]) => (counted.polling.in += size(d)));

async function client(url, name, transport) {
  const s = io(url, {
    auth: { username: name, guestId: `${name}-guest-id` },
    transports: [transport], upgrade: false, forceNew: true, reconnection: false,
  });
  s.got = 0;
  s.on("chat:message", () => s.got++);
  await once(s, "connect", 10000);
  return s;
}

const within = (got, want, what) =>
  assert.ok(Math.abs(got - want) <= 0.02 * want, `${what}: server ${got}, clients ${want}`);

const cases = [
  ["bandwidth:realtime holds the three instances' traffic, as the clients counted it", async () => {
    const clients = [];
    for (const [i, srv] of instances.entries()) {
      clients.push(await client(srv.url, `ws${i}a`, "websocket"), await client(srv.url, `ws${i}b`, "websocket"),
        await client(srv.url, `poll${i}`, "polling"));
    }
    const perClient = 8;
    await Promise.all(clients.map((s, i) => Promise.all(Array.from({ length: perClient }, (_, n) =>
      s.timeout(10000).emitWithAck("chat:message", { content: `bandwidth ${i}-${n} ${"é".repeat(n * 20)}` })))));
    const sent = perClient * clients.length;
    await until(() => clients.every((s) => s.got === sent), 10000, "every delivery");
    for (const s of clients) s.close();
    // The polling clients' ends reach the servers in their next request.
    await until(() => hgetall("bandwidth:realtime").connections_closed_total === clients.length, 15000, "every close counted");
    await sleep(1500); // every instance flushes its last second
    const rt = hgetall("bandwidth:realtime");
    assert.equal(rt.instances, 3, JSON.stringify(rt));
    for (const t of ["websocket", "polling"]) {
      within(rt[`${t}:bytes_in_total`], counted[t].in, `${t} bytes in`);
      within(rt[`${t}:bytes_out_total`], counted[t].out, `${t} bytes out`);
    }
    assert.equal(rt.messages_in_total, sent);
    assert.equal(rt.messages_out_total, sent * clients.length);
    assert.equal(rt.connections_opened_total, clients.length);
    assert.equal(rt.connections_closed_total, clients.length);
    assert.equal(rt.connections, 0);
    for (const i of [1, 2, 3]) assert.equal(rt[`instance:bw${i}:connections`], 0);
    console.log("clients counted", JSON.stringify(counted), "server",
      JSON.stringify(Object.fromEntries(Object.entries(rt).filter(([k]) => /^(websocket|polling):bytes/.test(k)))));
  }],

  ["the time series hold one point per interval, trimmed to the window", async () => {
    // A client chats on while the first points fall out of the window.
    const s = await client(instances[0].url, "steady", "websocket");
    const end = Date.now() + (WINDOW + 2) * 1000;
    for (let n = 0; Date.now() < end; n++) {
      await s.timeout(5000).emitWithAck("chat:message", { content: `steady ${n}` });
      await sleep(300);
    }
    for (const series of ["total", "websocket"]) {
      const lines = redis("ZRANGE", `bandwidth:timeseries:${series}`, "0", "-1", "WITHSCORES").split("\n");
      const scores = [];
      for (let i = 0; i + 1 < lines.length; i += 2) {
        scores.push(Number(lines[i + 1]));
        assert.equal(lines[i].split(":")[0], lines[i + 1], "a member starts with its interval");
      }
      assert.ok(scores.length >= 1 && scores.length <= WINDOW + 1, `${series}: ${scores.length} points`);
      assert.ok(scores[0] >= Math.floor(Date.now() / 1000) - WINDOW - 1, `${series} trimmed: ${scores[0]}`);
      for (let i = 1; i < scores.length; i++) assert.ok(scores[i] > scores[i - 1], `${series}: one point per interval`);
    }
    const total = redis("ZRANGE", "bandwidth:timeseries:total", "0", "-1").split("\n");
    for (let i = 1; i < total.length; i++) {
      assert.equal(Number(total[i].split(":")[0]), Number(total[i - 1].split(":")[0]) + 1, "the total has every second");
    }
    s.close();
  }],

  ["/metrics has the same figures, delivery latency, queues, HTTP and Redis commands", async () => {
    const text = await (await fetch(instances[0].url + "/metrics")).text();
    const value = (re) => Number((text.match(re) || [])[1]);
    assert.ok(value(/^bandwidth_bytes_total\{direction="out",endpoint="websocket"\} (\S+)$/m) > 0, "bytes");
    assert.ok(value(/^broadcast_delivery_seconds_count (\S+)$/m) > 0, "delivery latency");
    assert.ok(value(/^http_requests_total\{route="GET \/healthz",status="200"\} (\S+)$/m) > 0, "http");
    assert.ok(value(/^redis_command_seconds_count\{command="evalsha",pool="flows"\} (\S+)$/m) > 0, "redis commands");
    assert.ok(/^engineio_queued_frames \d+$/m.test(text), "queue depth");
  }],

  ["every metric of deploy/grafana-dashboard.json is one the server exports", async () => {
    const text = await (await fetch(instances[0].url + "/metrics")).text();
    const exported = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    const dash = JSON.parse(readFileSync(new URL("../deploy/grafana-dashboard.json", import.meta.url), "utf8"));
    const used = new Set();
    for (const p of dash.panels) {
      for (const t of p.targets) {
        for (const m of t.expr.matchAll(/([a-z_]+)\{/g)) used.add(m[1].replace(/_bucket$/, ""));
      }
    }
    assert.ok(used.size >= 10, [...used].join(" "));
    for (const name of used) assert.ok(exported.has(name), `${name} is not in /metrics`);
  }],

  ["every bandwidth:* key has a TTL", async () => {
    const keys = redis("--scan", "--pattern", "bandwidth:*").split("\n").filter(Boolean);
    assert.ok(keys.includes("bandwidth:realtime") && keys.some((k) => k.startsWith("bandwidth:metric:")), keys.join(" "));
    // -1: no TTL; -2: expired since the scan, which is what a TTL is for.
    for (const k of keys) assert.notEqual(Number(redis("PTTL", k)), -1, `${k} has no TTL`);
  }],
];

for (const s of instances) await s.start();
const failed = await run("bandwidth", cases, 40000);
for (const s of instances) await s.stop();
process.exit(failed ? 1 : 0);

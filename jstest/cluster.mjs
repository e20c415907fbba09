// Drives three real globalchat instances on one Redis and one MariaDB,
// behind nginx (cmd/globalchat/cluster_test.go starts redis-server, mariadbd
// and nginx; this script starts and kills the instances). The reference
// design's "Testing Multi-Instance Setup", and more.
// Env: GLOBALCHAT_BIN, REDIS_URL, REDIS_PORT, MYSQL_DSN, MYSQL_PORT,
// MYSQL_DB, PORTS (three, comma-separated), NGINX_URL.
import { execFileSync } from "node:child_process";
import { io } from "socket.io-client";
import { Guests, assert, once, run, sleep, sourceAddress, until } from "./lib.mjs";
import { Server, getJSON } from "./server.mjs";

const env = process.env;
const ports = env.PORTS.split(",");
const instances = ports.map((port, i) => new Server({
  PORT: port, INSTANCE_ID: `i${i + 1}`, REDIS_URL: env.REDIS_URL, MYSQL_DSN: env.MYSQL_DSN,
  // The bursts below send faster than a person may (20 a minute).
  RATE_LIMIT_PER_MINUTE: "1000",
  TRUSTED_PROXIES: "127.0.0.1", // nginx, which names the client in X-Forwarded-For
}));
const acked = new Set(); // ids of every acknowledged message
const guests = new Guests(); // a username is one user, whatever the instance
let clients = 0; // each client connects from an address of its own

const redis = (...args) =>
  execFileSync("redis-cli", ["-p", env.REDIS_PORT, "--raw", ...args], { encoding: "utf8" }).trim();
const sql = (query) =>
  execFileSync("mariadb", ["-h127.0.0.1", `-P${env.MYSQL_PORT}`, "-uroot", "-N", "-B", env.MYSQL_DB, "-e", query],
    { encoding: "utf8" }).trim();

async function client(url, username, opts = {}) {
  const s = io(url, {
    auth: guests.auth(username, username),
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...sourceAddress(clients++),
    ...opts,
  });
  guests.track(s, username);
  s.messages = [];
  s.on("chat:message", (m) => s.messages.push(m));
  await once(s, "connect", 10000);
  await until(() => s.session !== null, 5000, "chat:session");
  return s;
}

async function send(s, content) {
  const ack = await s.timeout(10000).emitWithAck("chat:message", { content, clientMsgId: `${s.id}-${content}` });
  assert.equal(ack.ok, true, JSON.stringify(ack));
  acked.add(ack.message.id);
  return ack.message;
}

const contentsOf = (s, prefix) => s.messages.filter((m) => m.content.startsWith(prefix));

const cases = [
  ["A on instance 1 sends, B on 2 and C on 3 receive", async () => {
    const [a, b, c] = await Promise.all(instances.map((srv, i) => client(srv.url, ["ann", "ben", "cat"][i])));
    const m = await send(a, "hello from 1");
    await until(() => contentsOf(b, "hello from 1").length === 1 && contentsOf(c, "hello from 1").length === 1, 5000, "delivery");
    assert.equal(b.messages.at(-1).seq, m.seq);
    await sleep(200);
    for (const s of [a, b, c]) assert.equal(contentsOf(s, "hello from 1").length, 1, "exactly once");
    for (const s of [a, b, c]) s.close();
  }],

  ["a guest is the same user on every instance (one key, kept in MySQL)", async () => {
    const [first, ...others] = instances;
    const watcher = await client(first.url, "observer");
    const joined = [];
    watcher.on("user:joined", (p) => joined.push(p));
    const tab1 = await client(first.url, "roamer");
    assert.ok(tab1.session.guestToken, "a new guest gets a token");
    const tabs = await Promise.all(others.map((srv) => client(srv.url, "roamer")));
    for (const t of tabs) {
      assert.equal(t.session.userId, tab1.session.userId, "same user on another instance");
      assert.equal(t.session.guestToken, undefined, "no new token");
    }
    const m = await send(tabs[1], "from the third instance");
    assert.equal(m.userId, tab1.session.userId);
    await sleep(300);
    assert.equal(joined.filter((p) => p.username === "roamer").length, 1, "one user:joined for three connections");
    for (const s of [watcher, tab1, ...tabs]) s.close();
  }],

  ["concurrent sends on all three: one seq order, no gap, no duplicate", async () => {
    const clients = await Promise.all(instances.map((srv, i) => client(srv.url, `sender${i}`)));
    const perClient = 60;
    await Promise.all(clients.map(async (s, i) => {
      await Promise.all(Array.from({ length: perClient }, (_, n) => send(s, `burst ${i}-${n}`)));
    }));
    const total = perClient * clients.length;
    await until(() => clients.every((s) => contentsOf(s, "burst").length === total), 10000, "all deliveries");
    const orders = clients.map((s) => contentsOf(s, "burst").map((m) => m.seq));
    for (const seqs of orders) {
      assert.deepEqual(seqs, orders[0], "same order everywhere");
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, "no gap, no duplicate");
    }
    for (const s of clients) s.close();
  }],

  ["a long-polling client through nginx (ip_hash) chats normally", async () => {
    const p = await client(env.NGINX_URL, "poller", { transports: ["polling"] });
    assert.equal(p.io.engine.transport.name, "polling");
    const other = await client(instances[1].url, "listener");
    const m = await send(p, "via nginx");
    await until(() => contentsOf(other, "via nginx").length === 1, 5000, "delivery to instance 2");
    await send(other, "back to the poller");
    await until(() => contentsOf(p, "back to the poller").length === 1, 5000, "delivery to the poller");
    const page = await getJSON(env.NGINX_URL + "/api/messages?limit=5");
    assert.ok(page.body.messages.some((x) => x.id === m.id));
    p.close();
    other.close();
  }],

  ["Redis holds what the reference design says, every key bounded", async () => {
    const watchers = await Promise.all(instances.map((srv, i) => client(srv.url, `watch${i}`)));
    await send(watchers[0], "for the keys");
    const online = redis("SMEMBERS", "global-chat:online-users").split("\n");
    for (let i = 0; i < 3; i++) assert.ok(online.includes(guests.userId(`watch${i}`)), `watch${i} online`);
    const hash = redis("HGETALL", `global-chat:user-online:${guests.userId("watch0")}`).split("\n");
    const fields = Object.fromEntries(hash.flatMap((v, i) => (i % 2 ? [] : [[v, hash[i + 1]]])));
    assert.equal(fields.socketId, watchers[0].id);
    assert.equal(fields.online, "true");
    assert.ok(Number(fields.timestamp) > 0);
    assert.equal(redis("GET", `global-chat:user-socket:${watchers[0].id}`), guests.userId("watch0"));
    const channels = redis("PUBSUB", "CHANNELS").split("\n");
    assert.ok(channels.includes("socket.io#/#"), `channels: ${channels}`);
    assert.ok(channels.includes("global-chat:messages"), `channels: ${channels}`);
    const bounded = new Set(["global-chat:seq", "global-chat:recent", "global-chat:online-users",
      "global-chat:online-names", "global-chat:instances"]);
    const keys = redis("--scan", "--pattern", "global-chat:*").split("\n").filter(Boolean);
    assert.ok(keys.some((k) => k.startsWith("global-chat:message:")), "messages cached");
    assert.ok(keys.some((k) => k.startsWith("global-chat:rate-limit:")), "rate limits kept");
    for (const k of keys) {
      const ttl = Number(redis("TTL", k));
      if (ttl === -2) continue; // expired meanwhile
      assert.ok(ttl >= 0 || bounded.has(k), `${k} has no TTL`); // 0: under a second left
      if (k.startsWith("global-chat:message:")) assert.ok(ttl <= 3600, `${k} TTL ${ttl}`);
      if (k.startsWith("global-chat:rate-limit:")) assert.ok(ttl <= 60, `${k} TTL ${ttl}`);
    }
    assert.ok(Number(redis("ZCARD", "global-chat:recent")) <= 1000);
    for (const s of watchers) s.close();
  }],

  ["an instance killed with SIGKILL: its users leave, its clients recover elsewhere", async () => {
    const k = await client(env.NGINX_URL, "kenny", { transports: ["polling", "websocket"] });
    const victim = instances.findIndex((_, i) => redis("SISMEMBER", `global-chat:instance-sockets:i${i + 1}`, k.id) === "1");
    assert.ok(victim >= 0, "kenny's instance found");
    const zombie = await client(instances[victim].url, "zombie");
    const witness = await client(instances[(victim + 1) % 3].url, "witness");
    await send(witness, "before the kill");
    await until(() => contentsOf(k, "before the kill").length === 1, 5000, "kenny is live");
    const recovered = new Promise((resolve) => k.io.on("reconnect", () => resolve()));
    const killedAt = Date.now();
    await instances[victim].stop("SIGKILL");
    for (let n = 0; n < 3; n++) await send(witness, `while down ${n}`);
    await recovered;
    await until(() => k.connected, 10000, "kenny reconnected");
    assert.equal(k.recovered, true, "recovered on another instance");
    await until(() => contentsOf(k, "while down").length === 3, 5000, "missed messages");
    assert.deepEqual(contentsOf(k, "while down").map((m) => m.content), ["while down 0", "while down 1", "while down 2"]);
    await until(() => redis("SISMEMBER", "global-chat:online-users", guests.userId("zombie")) === "0", 60000, "zombie leaves");
    console.log(`  zombie left the online set ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    assert.equal(redis("SISMEMBER", "global-chat:online-users", guests.userId("kenny")), "1", "kenny still online");
    k.close();
    zombie.close();
    witness.close();
    await instances[victim].start();
  }],

  ["MySQL holds every acked message exactly once", async () => {
    const rows = sql("SELECT id, COUNT(*) FROM messages GROUP BY id").split("\n").filter(Boolean);
    const counts = new Map(rows.map((r) => r.split("\t")).map(([id, n]) => [id, Number(n)]));
    for (const id of acked) assert.equal(counts.get(id), 1, `message ${id}`);
    assert.equal(Number(sql("SELECT COUNT(*) FROM messages")), Number(sql("SELECT COUNT(DISTINCT seq) FROM messages")));
    assert.ok(acked.size > 180, `acked ${acked.size}`);
  }],
];

await Promise.all(instances.map((s) => s.start()));
let failed = 1;
try {
  failed = await run("cluster", cases, 90000);
} finally {
  await Promise.all(instances.map((s) => s.stop()));
}
process.exit(failed ? 1 : 0);

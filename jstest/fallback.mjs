// Redis unreachable at start (cmd/globalchat/fallback_test.go): the server
// starts on in-memory state, says so in /readyz, serves the chat, and moves
// to Redis once it answers, its connected users with it.
// Env: GLOBALCHAT_BIN, REDIS_PORT (nothing listens there at first),
// PORT_A, PORT_B, DATA_DIR.
import { spawn, execFileSync } from "node:child_process";
import { io } from "socket.io-client";
import { Guests, assert, once, run, until } from "./lib.mjs";
import { Server, getJSON } from "./server.mjs";

const env = process.env;
const redisURL = `redis://127.0.0.1:${env.REDIS_PORT}/0`;
const a = new Server({ PORT: env.PORT_A, INSTANCE_ID: "a", REDIS_URL: redisURL, LOG_LEVEL: "info", SQLITE_PATH: `${env.DATA_DIR}/a.db` });
const b = new Server({ PORT: env.PORT_B, INSTANCE_ID: "b", REDIS_URL: redisURL, SQLITE_PATH: `${env.DATA_DIR}/b.db` });
let redis = null;
const guests = new Guests();

async function client(url, username) {
  const s = guests.track(io(url, { auth: guests.auth(username, username), transports: ["websocket"], forceNew: true }), username);
  s.messages = [];
  s.on("chat:message", (m) => s.messages.push(m));
  await once(s, "connect");
  await until(() => s.session !== null, 5000, "chat:session");
  return s;
}

const cases = [
  ["starts without Redis, ready but degraded, chat works through the store", async () => {
    await a.start();
    const ready = await getJSON(a.url + "/readyz");
    // It can accept messages: a balancer must keep it (degraded, named).
    assert.equal(ready.status, 200);
    assert.match(ready.body.status, /^degraded: .*redis/);
    assert.equal(ready.body.mode, "redis away");
    assert.notEqual(ready.body.checks.redis, "ok");
    assert.match(a.log, /redis unreachable at start/);
    const s = await client(a.url, "early");
    const ack = await s.timeout(5000).emitWithAck("chat:message", { content: "before redis" });
    assert.equal(ack.ok, true);
    globalThis.early = s;
  }],
  ["switches to Redis once it answers, users and order kept", async () => {
    redis = spawn("redis-server", ["--port", env.REDIS_PORT, "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no", "--dir", env.DATA_DIR], { stdio: "ignore" });
    await eventually(async () => (await getJSON(a.url + "/readyz")).body.status === "ok", 25000, "ready");
    assert.match(a.log, /switched from in-memory state to Redis/);
    const online = execFileSync("redis-cli", ["-p", env.REDIS_PORT, "SMEMBERS", "global-chat:online-users"], { encoding: "utf8" });
    assert.ok(online.includes(guests.userId("early")), "the connected user moved to Redis presence");
    // Its recovery session too, so that it recovers on another instance if
    // this one dies (saving at connect follows Redis, not the start).
    await eventually(async () => execFileSync("redis-cli", ["-p", env.REDIS_PORT, "--scan", "--pattern", "global-chat:recovery:*"],
      { encoding: "utf8" }).trim().split("\n").filter(Boolean).length === 1, 5000, "the session saved in Redis");
    await b.start();
    const late = await client(b.url, "late");
    const early = globalThis.early;
    const ack = await early.timeout(5000).emitWithAck("chat:message", { content: "after the switch" });
    assert.equal(ack.ok, true);
    assert.ok(ack.message.seq > 1, "seq continued");
    await until(() => late.messages.some((m) => m.content === "after the switch"), 5000, "delivery to b");
    const fromB = await late.timeout(5000).emitWithAck("chat:message", { content: "from b" });
    assert.ok(fromB.message.seq > ack.message.seq);
    await until(() => early.messages.some((m) => m.content === "from b"), 5000, "delivery to a");
    early.close();
    late.close();
  }],
];

// eventually polls an async condition.
async function eventually(cond, ms, what) {
  const end = Date.now() + ms;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let failed = 1;
try {
  failed = await run("fallback", cases, 40000);
} finally {
  await a.stop();
  await b.stop();
  if (redis) redis.kill();
}
process.exit(failed ? 1 : 0);

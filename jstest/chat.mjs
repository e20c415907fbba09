// Drives the real globalchat binary (cmd/globalchat/e2e_test.go) with the
// official socket.io-client: the three flows of the reference design.
// GLOBALCHAT_BIN is the binary; PORT, PORT_JWT free ports; DATA_DIR a
// temporary folder; TOKEN_GOOD, TOKEN_EXPIRED, TOKEN_BADSIG JWTs for the
// secret JWT_SECRET.
import { createHmac } from "node:crypto";
import { io } from "socket.io-client";
import { Guests, assert, once, run, sleep, sourceAddress, until } from "./lib.mjs";
import { Server, getJSON } from "./server.mjs";

const env = process.env;
// A leave grace shorter than the default 5 s, for the case that waits it out.
const GRACE_MS = 1500;
const server = new Server({ PORT: env.PORT, SQLITE_PATH: `${env.DATA_DIR}/chat.db`, PRESENCE_LEAVE_GRACE: `${GRACE_MS}ms` });

const guests = new Guests();

// client connects a guest and records what it receives; it keeps the
// token of chat:session, as the web client does, and sends it at each
// (re)connection.
async function client(username, key, opts = {}) {
  const s = io(server.url, {
    auth: guests.auth(key, username),
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 100,
    ...opts,
  });
  guests.track(s, key);
  s.got = { history: null, messages: [], joined: [], left: [] };
  s.on("chat:history", (h) => (s.got.history = h));
  s.on("chat:message", (m) => s.got.messages.push(m));
  s.on("user:joined", (p) => s.got.joined.push(p));
  s.on("user:left", (p) => s.got.left.push(p));
  await once(s, "connect");
  await until(() => s.got.history !== null && s.session !== null, 3000, "history and session");
  return s;
}

const userId = (key) => guests.userId(key);

const send = (s, content, clientMsgId) =>
  s.timeout(5000).emitWithAck("chat:message", clientMsgId ? { content, clientMsgId } : { content });

const id = (name) => `${name}-0123456789`;

const cases = [
  ["history on connect, chat with acks, seq order", async () => {
    const a = await client("alice", id("alice"));
    const b = await client("bob", id("bob"));
    assert.deepEqual(a.got.history.messages, []);
    const acks = [];
    for (let i = 0; i < 5; i++) acks.push(await send(a, `hello ${i}`));
    acks.push(await send(b, "hi alice"));
    for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
    const m = acks[0].message;
    assert.deepEqual(Object.keys(m).filter((k) => k !== "clientMsgId").sort(),
      ["content", "createdAt", "id", "seq", "userId", "username"]);
    assert.equal(m.username, "alice");
    assert.equal(m.userId, userId(id("alice")));
    assert.equal(a.session.userId, m.userId);
    assert.ok(!m.userId.includes(guests.byKey.get(id("alice")).guestToken.split(".")[1]), "the public id does not show the token");
    await until(() => a.got.messages.length === 6 && b.got.messages.length === 6, 3000, "deliveries");
    for (const c of [a, b]) {
      const seqs = c.got.messages.map((x) => x.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "seq order");
      assert.equal(new Set(seqs).size, 6, "no duplicate");
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1]);
    }
    assert.deepEqual(a.got.messages.map((x) => x.content), ["hello 0", "hello 1", "hello 2", "hello 3", "hello 4", "hi alice"]);
    const late = await client("carol", id("carol"));
    assert.deepEqual(late.got.history.messages.map((x) => x.content), a.got.messages.map((x) => x.content));
    a.close(); b.close(); late.close();
  }],

  ["user:joined and user:left once per user, with two tabs", async () => {
    const watcher = await client("watcher", id("watcher"));
    const tab1 = await client("dave", id("dave"));
    const tab2 = await client("dave", id("dave"));
    // What the second tab says next reaches the watcher after any
    // user:joined its connection caused: the watcher knows, once it has it.
    await send(tab2, "dave's second tab");
    await until(() => watcher.got.messages.some((m) => m.content === "dave's second tab"), 3000, "the second tab's message");
    const joins = watcher.got.joined.filter((p) => p.username === "dave");
    assert.equal(joins.length, 1, "one user:joined for two tabs");
    assert.equal(joins[0].userId, userId(id("dave")));
    assert.equal(tab2.session.userId, userId(id("dave")), "the second tab is the same user");
    assert.equal(tab2.session.guestToken, undefined, "a known guest gets no new token");
    assert.ok(joins[0].onlineCount >= 2);
    tab1.close();
    await sleep(300);
    assert.equal(watcher.got.left.filter((p) => p.username === "dave").length, 0, "no user:left while a tab is open");
    tab2.close();
    await until(() => watcher.got.left.some((p) => p.username === "dave"), 3000, "user:left");
    const online = await getJSON(server.url + "/api/online-users");
    assert.equal(online.status, 200);
    assert.ok(online.body.users.some((u) => u.username === "watcher"));
    assert.ok(!online.body.users.some((u) => u.username === "dave"));
    assert.equal(online.body.count, online.body.users.length);
    watcher.close();
  }],

  ["knowing everything public about a guest gives no way to speak as them", async () => {
    const victim = await client("victim", id("victim"));
    const vid = victim.session.userId;
    assert.equal((await send(victim, "I am the victim")).message.userId, vid);
    const page = await getJSON(server.url + "/api/messages?limit=100");
    const online = await getJSON(server.url + "/api/online-users");
    assert.ok(page.body.messages.some((m) => m.userId === vid) && online.body.users.some((u) => u.userId === vid));
    // What is published, sent back as each credential the server has ever read.
    const tail = vid.slice(vid.indexOf(":") + 1);
    for (const auth of [{ username: "victim", guestId: tail }, { username: "victim", guestId: vid }]) {
      const s = io(server.url, { auth, transports: ["websocket"], forceNew: true, reconnection: false });
      await once(s, "connect");
      const ack = await s.timeout(5000).emitWithAck("chat:message", { content: "I am not the victim" });
      assert.equal(ack.ok, true);
      assert.notEqual(ack.message.userId, vid, `${JSON.stringify(auth)} spoke as the victim`);
      s.close();
    }
    for (const guestToken of [vid, tail, `g1.${tail}.${tail}`]) {
      const s = io(server.url, { auth: { username: "victim", guestToken }, transports: ["websocket"], forceNew: true, reconnection: false });
      const [err] = await once(s, "connect_error");
      assert.equal(err.message, "invalid guest token");
      s.close();
    }
    // The victim's own rate limit and presence are untouched.
    assert.equal((await send(victim, "still me")).ok, true);
    victim.close();
    let gone = false;
    const left = async () => {
      const after = await getJSON(server.url + "/api/online-users");
      gone = !after.body.users.some((u) => u.userId === vid);
    };
    for (const end = Date.now() + 3000; !gone && Date.now() < end; await sleep(20)) await left();
    assert.ok(gone, "the victim left");
  }],

  ["the 21st message within a minute is rate limited", async () => {
    const s = await client("eve", id("eve"));
    for (let i = 0; i < 20; i++) assert.equal((await send(s, `m${i}`)).ok, true);
    const ack = await send(s, "one too many");
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "rate_limited");
    assert.ok(ack.error.retryAfterMs > 0 && ack.error.retryAfterMs <= 60000, `retryAfterMs ${ack.error.retryAfterMs}`);
    assert.match(ack.error.message, /at most 20 messages a minute/);
    assert.ok(s.connected);
    s.close();
  }],

  ["a retried clientMsgId is stored once", async () => {
    const s = await client("frank", id("frank"));
    const first = await send(s, "only once", "c-123");
    const again = await send(s, "only once", "c-123");
    assert.equal(first.ok, true);
    assert.equal(again.ok, true);
    assert.equal(again.message.id, first.message.id);
    assert.equal(again.message.seq, first.message.seq);
    // A second delivery of it would come before the next message's.
    await send(s, "after only once");
    await until(() => s.got.messages.some((m) => m.content === "after only once"), 3000, "the next message");
    assert.equal(s.got.messages.filter((m) => m.content === "only once").length, 1);
    const page = await getJSON(server.url + "/api/messages?limit=100");
    assert.equal(page.body.messages.filter((m) => m.content === "only once").length, 1);
    s.close();
  }],

  ["invalid payloads are refused and the connection survives", async () => {
    const s = await client("grace", id("grace"));
    const bad = [
      { content: "" },
      { content: "   " },
      { content: "x".repeat(2001) },
      { content: "bad \ud800 surrogate" },
      { content: "bell \u0007" },
      { content: 42 },
      {},
      "just a string",
      [1, 2],
      null,
    ];
    for (const payload of bad) {
      const ack = await s.timeout(5000).emitWithAck("chat:message", payload);
      assert.equal(ack.ok, false, JSON.stringify(payload));
      assert.equal(ack.error.code, "invalid_message", JSON.stringify(payload));
    }
    assert.ok(s.connected);
    const ok = await send(s, "still here\nwith a newline and 2000 chars max " + "é".repeat(1900));
    assert.equal(ok.ok, true);
    s.close();
  }],

  ["a dropped client recovers what it missed, once, in order", async () => {
    const r = await client("ivy", id("ivy"), { transports: ["polling", "websocket"] });
    const w = await client("jack", id("jack"));
    await send(w, "before the drop");
    await until(() => r.got.messages.some((m) => m.content === "before the drop"), 3000, "live message");
    const history = r.got.history;
    const lost = once(r, "disconnect");
    r.io.engine.close(); // the transport drops; the client reconnects by itself
    await lost;
    for (let i = 0; i < 3; i++) await send(w, `missed ${i}`);
    await once(r, "connect");
    assert.equal(r.recovered, true);
    await until(() => r.got.messages.filter((m) => m.content.startsWith("missed")).length === 3, 3000, "missed messages");
    await send(w, "after the recovery");
    await until(() => r.got.messages.some((m) => m.content === "after the recovery"), 3000, "live again");
    const seqs = r.got.messages.map((m) => m.seq);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), "once each, in seq order");
    assert.equal(r.got.history, history, "no second history on recovery");
    r.close();
    w.close();
  }],

  ["a dropped client back within PRESENCE_LEAVE_GRACE was never gone; one that stays away leaves after it", async () => {
    const w = await client("watcher3", id("watcher3"));
    const e = await client("erin", id("erin"));
    const erin = (list) => list.filter((p) => p.username === "erin");
    await until(() => erin(w.got.joined).length === 1, 3000, "erin's user:joined");
    const lost = once(e, "disconnect");
    e.io.engine.close(); // a blip: the transport drops, the client reconnects by itself
    await lost;
    await once(e, "connect");
    assert.equal(e.recovered, true);
    await sleep(GRACE_MS + 500); // a user:left would have come by now
    assert.equal(erin(w.got.left).length, 0, "no user:left for a blip");
    assert.equal(erin(w.got.joined).length, 1, "no second user:joined");
    e.io.reconnection(false); // now it goes for good, without a DISCONNECT
    const gone = once(e, "disconnect");
    const droppedAt = Date.now();
    e.io.engine.close();
    await gone;
    await until(() => erin(w.got.left).length === 1, GRACE_MS + 3000, "erin's user:left");
    assert.ok(Date.now() - droppedAt >= GRACE_MS - 100, `user:left after ${Date.now() - droppedAt} ms, within the grace`);
    w.close();
    e.close();
  }],

  ["a client cut before its first message recovers from the history's offset", async () => {
    const r = await client("kim", id("kim"));
    const w = await client("leo", id("leo"));
    assert.equal(r.got.messages.length, 0);
    const lost = once(r, "disconnect");
    r.io.engine.close(); // no message has reached it: the history gave the offset
    await lost;
    await send(w, "while kim was away");
    await once(r, "connect");
    assert.equal(r.recovered, true, "recovered with the offset of chat:history");
    await until(() => r.got.messages.some((m) => m.content === "while kim was away"), 3000, "the missed message");
    assert.equal(r.got.messages.length, 1, "once");
    r.close();
    w.close();
  }],

  ["HTTP history paging", async () => {
    const page = await getJSON(server.url + "/api/messages?limit=3");
    assert.equal(page.status, 200);
    assert.equal(page.body.messages.length, 3);
    assert.equal(page.body.hasMore, true);
    const seqs = page.body.messages.map((m) => m.seq);
    assert.ok(seqs[0] < seqs[1] && seqs[1] < seqs[2], "oldest first");
    const older = await getJSON(server.url + `/api/messages?before=${seqs[0]}&limit=100`);
    assert.ok(older.body.messages.every((m) => m.seq < seqs[0]));
    assert.equal(older.body.hasMore, false);
    for (const q of ["before=abc", "before=0", "limit=0", "limit=101", "limit=x"]) {
      const bad = await getJSON(server.url + "/api/messages?" + q);
      assert.equal(bad.status, 400, q);
      assert.equal(bad.body.error.code, "bad_request", q);
    }
  }],

  ["history survives a restart", async () => {
    const before = await getJSON(server.url + "/api/messages?limit=100");
    const t0 = Date.now();
    assert.equal(await server.stop(), 0, "graceful exit code");
    assert.ok(Date.now() - t0 < 10000, "shutdown within 10 s");
    await server.start();
    const s = await client("henry", id("henry"));
    const alice = await client("alice", id("alice"));
    assert.equal(alice.session.userId, userId(id("alice")), "a guest is the same user after a restart (the key is in the database)");
    alice.close();
    const after = await getJSON(server.url + "/api/messages?limit=100");
    assert.deepEqual(after.body.messages, before.body.messages);
    assert.deepEqual(s.got.history.messages, before.body.messages.slice(-50));
    const ack = await send(s, "after restart");
    assert.ok(ack.message.seq > before.body.messages.at(-1).seq, "seq continues");
    s.close();
  }],

  ["guests made up one after the other share their address's limit", async () => {
    // From an address of its own, at the shipped limits (120 messages a
    // minute per address), so that the other cases keep theirs.
    const from = sourceAddress(77);
    let accepted = 0;
    let refusal = null;
    for (let i = 0; i < 15 && !refusal; i++) {
      const s = io(server.url, { auth: { username: `rotor${i}` }, transports: ["websocket"], forceNew: true, reconnection: false, ...from });
      await once(s, "connect");
      for (let j = 0; j < 10 && !refusal; j++) {
        const ack = await send(s, `rotating ${i}-${j}`);
        if (ack.ok) accepted++;
        else refusal = ack;
      }
      s.close();
    }
    assert.equal(accepted, 120, "accepted before the address limit");
    assert.equal(refusal?.error.code, "rate_limited");
    assert.match(refusal.error.message, /at most 120 messages a minute from one address/);
    assert.ok(refusal.error.retryAfterMs > 0);
    const other = await client("bystander", id("bystander"), sourceAddress(78));
    assert.equal((await send(other, "another address is not limited")).ok, true);
    other.close();
  }],

  ["JWT mode refuses bad tokens and accepts a good one", async () => {
    const jwtServer = new Server({ PORT: env.PORT_JWT, SQLITE_PATH: `${env.DATA_DIR}/jwt.db`, AUTH_JWT_SECRET: env.JWT_SECRET });
    await jwtServer.start();
    try {
      const tryAuth = async (auth) => {
        const s = io(jwtServer.url, { auth, transports: ["websocket"], forceNew: true, reconnection: false });
        const result = await new Promise((resolve) => {
          s.once("connect", () => resolve({ ok: true }));
          s.once("connect_error", (e) => resolve({ ok: false, message: e.message }));
        });
        s.close();
        return result;
      };
      assert.deepEqual(await tryAuth({}), { ok: false, message: "token required" });
      assert.deepEqual(await tryAuth({ username: "guest" }), { ok: false, message: "token required" });
      assert.deepEqual(await tryAuth({ token: env.TOKEN_EXPIRED }), { ok: false, message: "token expired" });
      assert.deepEqual(await tryAuth({ token: env.TOKEN_BADSIG }), { ok: false, message: "invalid token" });
      assert.deepEqual(await tryAuth({ token: "not.a.jwt" }), { ok: false, message: "invalid token" });
      assert.deepEqual(await tryAuth({ token: env.TOKEN_GOOD }), { ok: true });
      const s = io(jwtServer.url, { auth: { token: env.TOKEN_GOOD }, transports: ["websocket"], forceNew: true });
      await once(s, "connect");
      const ack = await s.timeout(5000).emitWithAck("chat:message", { content: "signed" });
      assert.equal(ack.message.userId, "user-42");
      assert.equal(ack.message.username, "Ada");
      s.close();
      const stringExp = sign({ sub: "u", name: "Ada", exp: String(now() + 3600) });
      assert.deepEqual(await tryAuth({ token: stringExp }), { ok: false, message: "invalid token" });
    } finally {
      await jwtServer.stop();
    }
  }],

  ["JWT mode: the HTTP API asks for the token too", async () => {
    await withJWT(async (jwtServer) => {
      for (const path of ["/api/messages", "/api/online-users"]) {
        const bare = await fetch(jwtServer.url + path);
        assert.equal(bare.status, 401, path);
        assert.equal((await bare.json()).error.code, "unauthorized");
        assert.match(bare.headers.get("www-authenticate"), /^Bearer/);
        const stale = await fetch(jwtServer.url + path, { headers: { Authorization: `Bearer ${env.TOKEN_EXPIRED}` } });
        assert.equal(stale.status, 401, path);
        const ok = await fetch(jwtServer.url + path, { headers: { Authorization: `Bearer ${env.TOKEN_GOOD}` } });
        assert.equal(ok.status, 200, path);
      }
    });
  }],

  ["JWT mode: an expired token ends the connection, the client comes back with a fresh one", async () => {
    await withJWT(async (jwtServer) => {
      let token = sign({ sub: "short", name: "Brief", exp: now() + 1 });
      const r = io(jwtServer.url, { auth: (cb) => cb({ token }), transports: ["websocket"], forceNew: true, reconnectionDelay: 100 });
      const stale = io(jwtServer.url, { auth: { token }, transports: ["websocket"], forceNew: true, reconnectionDelay: 100 });
      const got = [];
      r.on("chat:message", (m) => got.push(m.content));
      await Promise.all([once(r, "connect"), once(stale, "connect")]);
      const w = io(jwtServer.url, { auth: { token: env.TOKEN_GOOD }, transports: ["websocket"], forceNew: true });
      await once(w, "connect");
      await w.timeout(5000).emitWithAck("chat:message", { content: "before the expiry" });
      await until(() => got.includes("before the expiry"), 5000, "a live message (it gives the client its offset)");
      const staleRefused = once(stale, "connect_error", 15000);
      const [reason] = await once(r, "disconnect", 15000); // exp + 5 s of leeway + 1 s
      assert.equal(reason, "transport close", "a transport close, so that the client reconnects by itself");
      assert.ok(r.active, "the client is reconnecting");
      token = sign({ sub: "short", name: "Brief", exp: now() + 3600 }); // what the auth callback gives now
      await w.timeout(5000).emitWithAck("chat:message", { content: "while you were away" });
      await once(r, "connect", 10000);
      assert.equal(r.recovered, true, "the session was recovered");
      await until(() => got.includes("while you were away"), 5000, "the missed message");
      const [err] = await staleRefused;
      assert.equal(err.message, "token expired", "the stale token is refused at CONNECT");
      for (const s of [r, stale, w]) s.close();
    });
  }],
];

// withJWT runs fn against a server in JWT mode, stopped afterwards.
async function withJWT(fn) {
  const jwtServer = new Server({ PORT: env.PORT_JWT, SQLITE_PATH: `${env.DATA_DIR}/jwt.db`, AUTH_JWT_SECRET: env.JWT_SECRET });
  await jwtServer.start();
  try {
    await fn(jwtServer);
  } finally {
    await jwtServer.stop();
  }
}

// now is the time in seconds, as JWTs count it.
function now() {
  return Math.floor(Date.now() / 1000);
}

// sign makes an HS256 JWT of claims with the test's secret.
function sign(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", env.JWT_SECRET).update(body).digest("base64url")}`;
}

await server.start();
let failed = 1;
try {
  failed = await run("chat-e2e", cases, 30000);
} finally {
  await server.stop();
}
process.exit(failed ? 1 : 0);

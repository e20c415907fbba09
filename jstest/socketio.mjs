// Drives the Go socketio server (socketio/client_test.go) with the official
// socket.io-client, over each transport setup. SERVER_URL names the server.
import { io } from "socket.io-client";
import msgpackParser from "socket.io-msgpack-parser";
import { assert, once, run, until } from "./lib.mjs";

const url = process.env.SERVER_URL;
const modes = {
  websocket: { transports: ["websocket"] },
  polling: { transports: ["polling"] },
  upgrade: { transports: ["polling", "websocket"] },
};

function connect(mode, path = "/", extra = {}) {
  return io(url + path, {
    ...modes[mode],
    forceNew: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 100,
    ...extra,
  });
}

async function connected(mode, path, extra) {
  const s = connect(mode, path, extra);
  await once(s, "connect");
  if (mode === "upgrade") {
    await until(() => s.io.engine.transport.name === "websocket", 5000, "upgrade");
  }
  return s;
}

const cases = [];
for (const mode of Object.keys(modes)) {
  const t = (name, fn) => cases.push([`${mode}: ${name}`, fn]);

  t("a client of another parser (msgpack) gets a connect_error naming it, and stops", async () => {
    const s = connect(mode, "/", { parser: msgpackParser });
    let attempts = 0;
    s.io.on("reconnect_attempt", () => attempts++);
    const [err] = await once(s, "connect_error");
    assert.match(err.message, /unsupported parser/);
    await new Promise((r) => setTimeout(r, 500)); // reconnectionDelay is 50 ms here
    assert.equal(attempts, 0, "no reconnection");
    assert.equal(s.connected, false);
    s.close();
  });

  t("connects with auth", async () => {
    const s = connect(mode, "/", { auth: { token: "abc" } });
    const [auth] = await once(s, "auth");
    assert.deepEqual(auth, { token: "abc" });
    assert.ok(s.connected);
    s.close();
  });

  t("emits and receives", async () => {
    const s = await connected(mode);
    s.emit("message", 1, "2", { 3: [true] });
    const args = await once(s, "message-back");
    assert.deepEqual(args, [1, "2", { 3: [true] }]);
    s.close();
  });

  t("client ack", async () => {
    const s = await connected(mode);
    const res = await s.timeout(3000).emitWithAck("message-with-ack", "a", { b: 2 });
    assert.deepEqual(res, "a");
    s.close();
  });

  t("server ack", async () => {
    const s = await connected(mode);
    s.on("server-ack", (n, cb) => cb(n * 2));
    s.emit("request-server-ack", 21);
    const [result] = await once(s, "server-ack-result");
    assert.equal(result, 42);
    s.close();
  });

  t("binary event", async () => {
    const s = await connected(mode);
    s.emit("message", Buffer.from([1, 2, 3]), { nested: Buffer.from([4, 5]) });
    const [a, b] = await once(s, "message-back");
    assert.deepEqual([...new Uint8Array(a)], [1, 2, 3]);
    assert.deepEqual([...new Uint8Array(b.nested)], [4, 5]);
    s.close();
  });

  t("namespace refusal", async () => {
    const s = connect(mode, "/random");
    const [err] = await once(s, "connect_error");
    assert.equal(err.message, "Invalid namespace");
    s.close();
    const p = connect(mode, "/private", { auth: { token: "wrong" } });
    const [err2] = await once(p, "connect_error");
    assert.equal(err2.message, "unauthorized");
    assert.deepEqual(err2.data, { hint: "token" });
    p.close();
    const ok = connect(mode, "/private", { auth: { token: "secret" } });
    await once(ok, "connect");
    ok.close();
  });

  t("disconnected by the server", async () => {
    const s = await connected(mode);
    const gone = once(s, "disconnect");
    s.emit("disconnect-me");
    const [reason] = await gone;
    assert.equal(reason, "io server disconnect");
    s.close();
  });

  t("recovers after the transport is cut", async () => {
    const a = await connected(mode);
    const b = await connected("websocket");
    const ticks = [];
    a.on("tick", (n) => ticks.push(n));
    await a.timeout(3000).emitWithAck("join", "r");
    await b.timeout(3000).emitWithAck("broadcast", "r", 1);
    await until(() => ticks.length === 1, 3000, "tick 1");
    const firstId = a.id;
    const lost = once(a, "disconnect");
    a.io.engine.close(); // cut the transport: the client reconnects
    await lost;
    for (const n of [2, 3, 4]) await b.timeout(3000).emitWithAck("broadcast", "r", n);
    await once(a, "connect");
    assert.equal(a.recovered, true, "recovered");
    assert.equal(a.id, firstId, "same socket id");
    await b.timeout(3000).emitWithAck("broadcast", "r", 5); // rooms restored
    await until(() => ticks.length >= 5, 3000, "ticks 2-5");
    assert.deepEqual(ticks, [1, 2, 3, 4, 5]);
    a.close();
    b.close();
  });
}

process.exit((await run("socketio-client", cases)) ? 1 : 0);

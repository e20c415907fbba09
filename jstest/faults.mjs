// Steady traffic for the fault suite (faults/faults_test.go starts the
// servers, injects the faults and judges this script's record): SENDERS
// clients send RATE messages a second each, RECEIVERS clients only listen,
// all over WebSocket only, with fast reconnection and the connection state
// recovery the server offers. Every attempt's ack, every delivery and every
// (re)connect is written to OUT as one JSON line.
// Env: URL, OUT, SENDERS, RECEIVERS, RATE, SEND_MS, QUIET_MS,
// ACK_TIMEOUT_MS, RETRY_MS, MAX_ATTEMPTS.
import { createWriteStream } from "node:fs";
import { io } from "socket.io-client";
import { Guests, sleep } from "./lib.mjs";

const env = process.env;
const num = (name, def) => (env[name] ? Number(env[name]) : def);
const senders = num("SENDERS", 6);
const receivers = num("RECEIVERS", 6);
const period = 1000 / num("RATE", 5);
const sendMs = num("SEND_MS", 20000);
const quietMs = num("QUIET_MS", 8000);
const ackTimeout = num("ACK_TIMEOUT_MS", 8000);
const retryMs = num("RETRY_MS", 300);
const maxAttempts = num("MAX_ATTEMPTS", 4);

const out = createWriteStream(env.OUT);
const guests = new Guests(); // each client stays one guest across reconnects
const record = (r) => out.write(JSON.stringify({ ts: Date.now(), ...r }) + "\n");

// client opens one socket named name and records its life.
function client(name, onMessage) {
  const s = io(env.URL, {
    auth: guests.auth(name, name),
    transports: ["websocket"],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    randomizationFactor: 0.2,
  });
  guests.track(s, name);
  s.on("chat:session", (p) => record({ k: "sess", c: name, uid: p.userId }));
  let connects = 0;
  s.on("connect", () => record({ k: "conn", c: name, sid: s.id, rec: s.recovered === true, n: ++connects }));
  s.on("disconnect", (why) => record({ k: "disc", c: name, why: String(why) }));
  s.on("connect_error", (e) => record({ k: "cerr", c: name, err: String(e && e.message) }));
  if (onMessage) s.on("chat:message", onMessage);
  return s;
}

function receiver(name) {
  return client(name, (m, off) => record({ k: "del", c: name, id: m.id, seq: m.seq, off: off ?? null }));
}

// attempt sends one message once and records the outcome.
async function attempt(s, name, clientMsgId, n) {
  const sent = Date.now();
  try {
    const ack = await s.timeout(ackTimeout).emitWithAck("chat:message", { content: `${clientMsgId} try ${n}`, clientMsgId });
    if (ack && ack.ok) {
      record({ k: "ack", c: name, cm: clientMsgId, att: n, sent, ok: true, id: ack.message.id, seq: ack.message.seq });
      return true;
    }
    const e = (ack && ack.error) || {};
    record({ k: "ack", c: name, cm: clientMsgId, att: n, sent, ok: false, code: e.code, err: e.message });
  } catch (e) {
    record({ k: "ack", c: name, cm: clientMsgId, att: n, sent, ok: false, timeout: true, err: String(e && e.message) });
  }
  return false;
}

// sender sends until stopAt. A refused or unanswered message is sent
// again with the same clientMsgId after a short pause, as a user of the
// web client would, up to maxAttempts times; then the user gives up on it
// and goes on with the next one.
async function sender(name, stopAt) {
  const s = client(name);
  let i = 0;
  while (Date.now() < stopAt) {
    const start = Date.now();
    const clientMsgId = `${name}-${++i}`;
    for (let n = 1; ; n++) {
      if (await attempt(s, name, clientMsgId, n)) break;
      if (n === maxAttempts) {
        record({ k: "gaveup", c: name, cm: clientMsgId });
        break;
      }
      await sleep(retryMs);
    }
    await sleep(Math.max(0, period - (Date.now() - start)));
  }
  return s;
}

async function main() {
  const rs = Array.from({ length: receivers }, (_, i) => receiver(`r${i + 1}`));
  const connected = (s) => new Promise((resolve) => (s.connected ? resolve() : s.once("connect", resolve)));
  await Promise.all(rs.map(connected));
  const startAt = Date.now();
  record({ k: "start" });
  console.log("READY");
  const stopAt = startAt + sendMs;
  const ss = await Promise.all(Array.from({ length: senders }, (_, i) => sender(`s${i + 1}`, stopAt)));
  record({ k: "stop" });
  console.log("STOPPED");
  await sleep(quietMs);
  record({ k: "end" });
  for (const s of [...rs, ...ss]) s.close();
  await new Promise((resolve) => out.end(resolve));
}

await main();
process.exit(0);

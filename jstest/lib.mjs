// Small helpers shared by the drivers: a runner that prints one line per
// case and a closing "N passed, N failed" line, and promise utilities.
import assert from "node:assert/strict";
import http from "node:http";

export { assert };

export function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${event}`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(cond, ms = 5000, what = "condition") {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await sleep(10);
  }
}

// run executes cases in order, each within its own time limit, prints the
// closing line and returns the number of failures.
export async function run(suite, cases, ms = 15000) {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of cases) {
    let timer;
    try {
      await Promise.race([
        fn(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("case timed out")), ms);
        }),
      ]);
      passed++;
      console.log(`PASS ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    } finally {
      clearTimeout(timer);
    }
  }
  console.log(`${suite}: ${passed} passed, ${failed} failed`);
  return failed;
}

// Guests keeps the guest tokens the server issues (in chat:session, as the
// web client keeps them) by the key a test names a user with: the same key
// is the same user, in another tab or after a reconnect.
export class Guests {
  constructor() {
    this.byKey = new Map();
  }

  // auth is the socket.io-client auth callback for key: asked at every
  // (re)connection, it sends the token once the server has issued one.
  auth(key, username) {
    return (cb) => {
      const g = this.byKey.get(key);
      cb(g ? { username, guestToken: g.guestToken } : { username });
    };
  }

  // track records socket.session and keeps a newly issued token.
  track(socket, key) {
    socket.session = null;
    socket.on("chat:session", (p) => {
      socket.session = p;
      if (p.guestToken) this.byKey.set(key, p);
    });
    return socket;
  }

  userId(key) {
    return this.byKey.get(key)?.userId;
  }
}

// sourceAddress returns the n-th loopback source address, each in a /24 of
// its own (127.0.1.1, 127.0.2.1, ...): the server and nginx bound what one
// client address may do, and nginx's ip_hash spreads clients by their /24.
// Pass its options to io() to connect from it, on either transport.
export function sourceAddress(n) {
  const localAddress = `127.0.${1 + (n % 254)}.${1 + Math.floor(n / 254)}`;
  return { localAddress, agent: new http.Agent({ localAddress, keepAlive: true }) };
}

// Browser test of the operator's dashboard (/admin) against the real
// server binary on a real Redis, which this script starts, kills and
// starts again.
//
//   GLOBALCHAT_BIN=… REDIS_PORT=… PORT=… PORT_OFF=… ARTIFACTS_DIR=… node web/e2e/admin.mjs
//
// An instance without ADMIN_TOKEN shows how to turn the dashboard on; the
// one with it refuses its API without the token and a wrong token, then
// shows live charts that move while clients chat, Redis reported down
// when it is killed and up when it is back, and the events of both.
// Screenshots land in ARTIFACTS_DIR. Prints "admin: N passed, 0 failed".

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { io } from "socket.io-client";

const TOKEN = "dashboard-test-token-0123456789";
const STEP_MS = 30_000;
const env = process.env;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "globalchat-admin-"));
const artifacts = env.ARTIFACTS_DIR || path.join(tmp, "artifacts");
fs.mkdirSync(artifacts, { recursive: true });
const base = `http://127.0.0.1:${env.PORT}`;
const children = [];
const problems = [];
let redis = null;
let passed = 0;
let browser = null;
let page = null;

process.on("exit", () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 2 });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(cmd, args, extraEnv, name) {
  const log = fs.createWriteStream(path.join(artifacts, `${name}.log`));
  const child = spawn(cmd, args, { env: { ...process.env, ...extraEnv }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  children.push(child);
  return child;
}

function startRedis() {
  redis = start("redis-server", ["--port", env.REDIS_PORT, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {}, "redis");
}

async function until(cond, what, ms = STEP_MS) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {}
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await sleep(200);
  }
}

async function healthy(url) {
  await until(async () => (await fetch(`${url}/healthz`)).ok, `${url}/healthz`);
}

async function step(name, fn) {
  try {
    await fn();
    if (problems.length) throw new Error(problems.join("; "));
    passed++;
    console.log(`ok  ${name}`);
  } catch (e) {
    console.log(`admin: FAIL: ${name}: ${e?.stack ?? e}`);
    if (page) await page.screenshot({ path: path.join(artifacts, "admin-failure.png") }).catch(() => {});
    console.log(`admin: ${passed} passed, 1 failed`);
    process.exit(1);
  }
}

const shot = (name) => page.screenshot({ path: path.join(artifacts, `admin-${name}.png`), fullPage: true });
const text = (sel) => page.locator(sel).innerText();
const kpi = async (name) => Number((await page.locator(`[data-kpi="${name}"]`).innerText()).replace(/[^\d.]/g, ""));

await step("redis and two servers start (one without ADMIN_TOKEN)", async () => {
  startRedis();
  await sleep(300);
  start(env.GLOBALCHAT_BIN, [], {
    PORT: env.PORT, REDIS_URL: `redis://127.0.0.1:${env.REDIS_PORT}/0`, ADMIN_TOKEN: TOKEN,
    BANDWIDTH_INTERVAL: "1s", SQLITE_PATH: path.join(tmp, "on.db"), RATE_LIMIT_PER_MINUTE: "10000",
  }, "server");
  start(env.GLOBALCHAT_BIN, [], { PORT: env.PORT_OFF, SQLITE_PATH: path.join(tmp, "off.db") }, "server-off");
  await healthy(base);
  await healthy(`http://127.0.0.1:${env.PORT_OFF}`);
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("console", (msg) => {
    // The refused token's 401 is expected; nothing else may be an error.
    if (msg.type() === "error" && !/401/.test(msg.text())) problems.push(`console error: ${msg.text()}`);
  });
});

await step("without ADMIN_TOKEN the page says how to turn it on and shows nothing", async () => {
  await page.goto(`http://127.0.0.1:${env.PORT_OFF}/admin`);
  await page.locator("#setup").waitFor({ state: "visible" });
  if (!(await text("#setup")).includes("ADMIN_TOKEN")) throw new Error("no hint");
  if (await page.locator("#board").isVisible()) throw new Error("board shown");
  await shot("off");
});

await step("the API refuses a request without the token, and the page a wrong token", async () => {
  await page.goto(`${base}/admin`);
  await page.locator("#login").waitFor({ state: "visible" });
  const status = await page.evaluate(async () => (await fetch("/admin/api/live")).status);
  if (status !== 401) throw new Error(`no token: ${status}`);
  await page.fill("#token", "not-the-token");
  await page.click("#login-submit");
  await until(async () => (await text("#login-error")).includes("refused"), "refusal shown");
  if (await page.locator("#board").isVisible()) throw new Error("board shown to a wrong token");
  await shot("refused");
});

const clients = [];
await step("signed in with the token, the charts move while clients chat", async () => {
  await page.fill("#token", TOKEN);
  await page.click("#login-submit");
  await page.locator("#board").waitFor({ state: "visible" });
  await until(async () => (await page.locator('#deps [data-check="redis"]').getAttribute("data-state")) === "up", "redis up");
  for (let i = 0; i < 5; i++) {
    const s = io(base, { auth: { username: `load${i}` }, transports: ["websocket"], forceNew: true });
    s.timer = setInterval(() => s.connected && s.emit("chat:message", { content: `load ${i} ${Date.now()}` }), 200);
    clients.push(s);
  }
  const chart = page.locator("figure.chart", { hasText: "Messages per second" }).first();
  const before = await chart.getAttribute("data-last");
  await until(async () => (await kpi("Messages in/s")) > 0 && (await kpi("Online users")) >= 5, "messages/s and online users");
  await until(async () => (await chart.getAttribute("data-last")) !== before, "the messages chart moves");
  const points = Number(await chart.getAttribute("data-points"));
  await sleep(2000);
  if (Number(await chart.getAttribute("data-points")) <= points) throw new Error("no new points in 2 s");
  await until(async () => Number(await page.locator("#hour figure.chart").first().getAttribute("data-points")) > 0, "the last hour's points");
  await shot("live");
});

await step("Redis killed: reported down, with its event", async () => {
  redis.kill("SIGKILL");
  await until(async () => (await page.locator('#deps [data-check="redis"]').getAttribute("data-state")) === "down", "redis down");
  await until(async () => (await text("#events")).includes("redis down"), "the down event");
  await shot("redis-down");
});

await step("Redis back: reported up, with its event", async () => {
  startRedis();
  await until(async () => (await page.locator('#deps [data-check="redis"]').getAttribute("data-state")) === "up", "redis up again", 45_000);
  await until(async () => /redis up[\s\S]*redis down/.test(await text("#events")), "the up event");
  await shot("redis-back");
});

for (const s of clients) {
  clearInterval(s.timer);
  s.close();
}
await browser.close();
console.log(`admin: ${passed} passed, 0 failed`);
process.exit(0);

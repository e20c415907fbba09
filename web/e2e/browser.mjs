// Browser test of the web client against the real server binary.
//
//   GLOBALCHAT_BIN=/path/to/globalchat ARTIFACTS_DIR=/tmp/shots node web/e2e/browser.mjs
//
// It starts the server on a free port with a fresh SQLite file, drives two
// Chromium pages (alice at desktop width, bob at phone width) through
// joining, sending, an HTML-injection attempt and a server restart, and
// saves screenshots. Any console error or page error fails the run, except
// the network errors Chromium logs while the server is down on purpose.
// It prints "browser: N passed, 0 failed" on success, exits 1 otherwise,
// and kills the server whatever happens.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const TOTAL_MS = 55_000; // the Go test allows 60 s
const STEP_MS = 20_000;
const WAIT_MS = 10_000;
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
// What Chromium logs by itself when a request or WebSocket cannot connect:
// expected only while the server is stopped for the restart.
const NETWORK_ERROR = /Failed to load resource|net::ERR_|WebSocket connection to .* failed/i;

const bin = process.env.GLOBALCHAT_BIN;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "globalchat-browser-"));
const artifacts = process.env.ARTIFACTS_DIR || path.join(tmp, "artifacts");
const dbPath = path.join(tmp, "chat.db");

let server = null; // the running server process
let serverRun = 0;
let serverLog = ""; // the output of the latest server run
let browser = null;
let phase = "load"; // "restart" while the server is down on purpose
let passed = 0;
const problems = []; // console errors and page errors that fail the run
const dialogs = [];
const pages = {};

// Whatever happens, the server does not outlive the script.
process.on("exit", () => {
  if (server && server.exitCode === null && server.signalCode === null) server.kill("SIGKILL");
  fs.rmSync(path.join(tmp, "profile"), { recursive: true, force: true });
  fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 2 });
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => fail(`interrupted by ${sig}`));
process.on("unhandledRejection", (err) => fail(`unhandled rejection: ${err?.stack ?? err}`));

const watchdog = setTimeout(() => fail(`timed out: the whole run took over ${TOTAL_MS / 1000} s`), TOTAL_MS);

async function fail(message) {
  clearTimeout(watchdog);
  console.error(`browser: FAIL: ${message}`);
  await Promise.race([describePages(), sleep(3000)]).catch(() => {});
  await Promise.race([screenshots("failure"), sleep(3000)]).catch(() => {});
  if (serverLog) {
    const tail = fs.readFileSync(serverLog, "utf8").trimEnd().split("\n").slice(-30).join("\n  ");
    if (tail) console.error(`server output (last lines of ${path.basename(serverLog)}):\n  ${tail}`);
  }
  console.log(`browser: ${passed} passed, 1 failed`);
  process.exit(1);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// step runs one named check; a failure (or any console error so far) ends the run.
async function step(name, fn) {
  try {
    await withTimeout(fn(), STEP_MS, name);
  } catch (err) {
    await fail(`${name}: ${err?.message ?? err}`);
  }
  if (problems.length > 0) await fail(`${name}: ${problems.join("\n  ")}`);
  passed++;
  console.log(`ok  ${name}`);
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const l = net.createServer();
    l.once("error", reject);
    l.listen(0, "127.0.0.1", () => {
      const { port } = l.address();
      l.close(() => resolve(port));
    });
  });
}

function startServer(port) {
  serverRun++;
  serverLog = path.join(artifacts, `server-${serverRun}.log`);
  const log = fs.createWriteStream(serverLog);
  const child = spawn(bin, [], {
    env: { ...process.env, PORT: String(port), SQLITE_PATH: dbPath },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.once("error", (err) => fail(`cannot start ${bin}: ${err.message}`));
  server = child;
  return child;
}

async function waitHealthy(base, child) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited (${child.exitCode ?? child.signalCode}) before /healthz answered`);
    }
    try {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error("/healthz did not answer 200 within 15 s");
}

async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const graceful = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!graceful) {
    child.kill("SIGKILL");
    await exited;
    throw new Error("server did not exit within 10 s of SIGTERM");
  }
}

// describePages prints what each page shows, to tell a failure's cause.
async function describePages() {
  for (const [name, page] of Object.entries(pages)) {
    if (page.isClosed()) continue;
    const seen = await page.evaluate(() => ({
      status: document.querySelector("#conn-status")?.textContent?.trim(),
      joinError: document.querySelector("#join-error")?.textContent,
      last: [...document.querySelectorAll("#messages li")].slice(-6).map((li) => li.textContent?.trim()),
    }));
    console.error(`${name} shows: ${JSON.stringify(seen)}`);
  }
}

async function screenshots(label) {
  for (const [name, page] of Object.entries(pages)) {
    if (page.isClosed()) continue;
    await page.screenshot({ path: path.join(artifacts, `${name}-${label}.png`), timeout: 3000 }).catch(() => {});
  }
}

async function openPage(name, viewport) {
  const context = await browser.newContext({ viewport, locale: "en-US" });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (phase === "restart" && NETWORK_ERROR.test(text)) return;
    problems.push(`${name}: console error: ${text}`);
  });
  page.on("pageerror", (err) => problems.push(`${name}: page error: ${err.message}`));
  page.on("dialog", (d) => {
    dialogs.push(`${name}: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  pages[name] = page;
  return page;
}

async function join(page, base, name) {
  await page.goto(base, { waitUntil: "load" });
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Your name").press("Enter");
  await page.locator("#chat-screen").waitFor({ state: "visible" });
  await waitState(page, "connected", "Connected");
}

async function waitState(page, state, text) {
  const status = page.locator(`#conn-status[data-state="${state}"]`);
  await status.waitFor({ state: "visible", timeout: 20_000 });
  const shown = await status.textContent();
  check(shown.includes(text), `status shows "${shown}", want "${text}"`);
}

async function send(page, text) {
  const box = page.getByLabel("Message", { exact: true });
  await box.fill(text);
  await box.press("Enter");
}

// texts returns the text of each message shown, in order.
function texts(page) {
  return page.locator("#messages li.msg .text").allTextContents();
}

async function waitText(page, text) {
  await page.locator("#messages li.msg:not(.pending):not(.failed) .text", { hasText: text }).first().waitFor();
}

// expectOnce waits until each text is shown exactly once (history may still be merging).
async function expectOnce(page, wanted) {
  const deadline = Date.now() + WAIT_MS;
  let shown = [];
  while (Date.now() < deadline) {
    shown = await texts(page);
    if (wanted.every((w) => shown.filter((s) => s === w).length === 1)) break;
    await sleep(100);
  }
  for (const w of wanted) {
    const n = shown.filter((s) => s === w).length;
    check(n === 1, `"${w}" shown ${n} times, want once; shown: ${JSON.stringify(shown)}`);
  }
  const seqs = await page.locator("#messages li.msg[data-seq]").evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
  check(new Set(seqs).size === seqs.length, `duplicate seqs shown: ${seqs}`);
  check(seqs.every((s, i) => i === 0 || seqs[i - 1] < s), `messages not in seq order: ${seqs}`);
}

async function main() {
  if (!bin) await fail("GLOBALCHAT_BIN is not set: point it at the built server binary");
  if (!fs.existsSync(bin)) await fail(`GLOBALCHAT_BIN=${bin} does not exist`);
  if (!fs.existsSync(CHROMIUM)) await fail(`${CHROMIUM} is missing: apt-get install -y chromium`);
  fs.mkdirSync(artifacts, { recursive: true });

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const hello = "hello bob";
  const evil = "<img src=x onerror=alert(1)>";
  let alice;
  let bob;

  await step("server starts and /healthz answers 200", async () => {
    await waitHealthy(base, startServer(port));
  });

  await step("browser starts", async () => {
    const home = path.join(tmp, "profile");
    fs.mkdirSync(home, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      // Playwright gives the browser a fresh temporary profile; HOME and XDG
      // dirs point into the run's temp dir so nothing else is touched.
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home },
      timeout: 15_000,
    });
    alice = await openPage("alice", { width: 1100, height: 720 });
    bob = await openPage("bob", { width: 390, height: 780 });
  });

  await step("alice and bob join as guests", async () => {
    await join(alice, base, "alice");
    await join(bob, base, "bob");
  });

  let aliceToken = "";
  await step("each guest keeps the token the server issued, never shown", async () => {
    aliceToken = await alice.evaluate(() => localStorage.getItem("globalchat.guestToken") ?? "");
    const bobToken = await bob.evaluate(() => localStorage.getItem("globalchat.guestToken") ?? "");
    check(aliceToken.startsWith("g1.") && bobToken.startsWith("g1.") && aliceToken !== bobToken, `tokens ${aliceToken} ${bobToken}`);
    const html = await bob.content();
    check(!html.includes(aliceToken.split(".")[1]), "alice's token shows in bob's page");
  });

  await step("the online list shows both users", async () => {
    await alice.locator("#online-list li", { hasText: "bob" }).waitFor();
    await alice.locator("#online-list li", { hasText: "alice" }).waitFor();
    await alice.locator("#online-count", { hasText: "2" }).waitFor();
  });

  await step('alice sends "hello bob" and bob sees it', async () => {
    await send(alice, hello);
    await waitText(bob, hello);
    await waitText(alice, hello);
  });

  await step("HTML in a message is shown as text", async () => {
    await send(alice, evil);
    await waitText(bob, evil);
    await waitText(alice, evil);
    const shown = await texts(bob);
    check(shown.includes(evil), `bob does not show the literal text; shown: ${JSON.stringify(shown)}`);
    for (const [name, page] of Object.entries(pages)) {
      const imgs = await page.locator("#messages img").count();
      check(imgs === 0, `${name}: ${imgs} img element(s) inside the message list`);
    }
    await sleep(300); // an onerror handler would have fired by now
    check(dialogs.length === 0, `dialogs opened: ${dialogs.join("; ")}`);
    await expectOnce(bob, [hello, evil]);
  });

  await screenshots("connected");

  await step("server stops (SIGTERM) and both pages show reconnecting", async () => {
    phase = "restart";
    await stopServer(server);
    await waitState(alice, "reconnecting", "Reconnecting");
    await waitState(bob, "reconnecting", "Reconnecting");
    await screenshots("reconnecting");
  });

  await step("server restarts on the same port and database", async () => {
    await waitHealthy(base, startServer(port));
  });

  await step("both pages reconnect and show the history once", async () => {
    await waitState(alice, "connected", "Connected");
    await waitState(bob, "connected", "Connected");
    await expectOnce(alice, [hello, evil]);
    await expectOnce(bob, [hello, evil]);
    phase = "after";
  });

  await step("messages flow again after the restart", async () => {
    await send(bob, "back again");
    await waitText(alice, "back again");
    await expectOnce(alice, [hello, evil, "back again"]);
    await expectOnce(bob, [hello, evil, "back again"]);
  });

  await step("alice is the same user after the restart: her messages are hers only", async () => {
    const token = await alice.evaluate(() => localStorage.getItem("globalchat.guestToken") ?? "");
    check(token === aliceToken, "alice's guest token changed");
    await alice.locator("#messages li.msg.mine", { hasText: hello }).waitFor();
    await bob.locator("#messages li.msg.mine", { hasText: "back again" }).waitFor();
    check((await bob.locator("#messages li.msg.mine", { hasText: hello }).count()) === 0, "bob shows alice's message as his");
  });

  await screenshots("after-restart");

  await browser.close();
  await stopServer(server);
  clearTimeout(watchdog);
  console.log(`browser: ${passed} passed, 0 failed`);
}

main().catch((err) => fail(err?.stack ?? String(err)));

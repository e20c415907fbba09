// Browser test of the web client against the real server binary.
//
//   GLOBALCHAT_BIN=/path/to/globalchat ARTIFACTS_DIR=/tmp/shots [SEED_DB=history.db] [PORT=…] node web/e2e/browser.mjs
//
// It starts the server on 127.0.0.1:PORT (a free port when unset) with a fresh SQLite file (a copy of
// SEED_DB when set: the Go test seeds messages of earlier days), drives
// Chromium pages (alice at desktop width, bob at phone width, erin in dark
// mode) through joining, sending, an HTML-injection attempt, a server
// restart, grouping and day separators, unread count and jump, mentions,
// code and emoji, the offline queue, reload without the join screen, the
// character counter, the rate-limit countdown and resend, and axe-core on
// both screens in light and dark; it prints the page weight and the first
// paint, and saves screenshots of phone and desktop, light and dark. Any console error or page error fails the run, except
// the network errors Chromium logs while the server is down on purpose.
// It prints "browser: N passed, 0 failed" on success, exits 1 otherwise,
// and kills the server whatever happens.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

const TOTAL_MS = 200_000; // the Go test allows 240 s
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
// The per-user limit of this run, in a window of RATE_WINDOW_S seconds
// (RATE_LIMIT_WINDOW): erin goes over it on purpose.
const RATE_LIMIT = 8;
const RATE_WINDOW_S = 10;

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
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      SQLITE_PATH: dbPath,
      RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
      RATE_LIMIT_WINDOW: `${RATE_WINDOW_S}s`,
    },
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

async function openPage(name, viewport, colorScheme = "light") {
  const context = await browser.newContext({ viewport, locale: "en-US", colorScheme });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if ((phase === "restart" || phase === `offline-${name}`) && NETWORK_ERROR.test(text)) return;
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
  await expectAtBottom(page);
}

// expectAtBottom checks that the newest message is in full view (it once
// stopped 18-21 px short after joining).
async function expectAtBottom(page) {
  await sleep(300); // history, the "Load older" button and layout settle
  const gap = await page.locator("#scroller").evaluate((s) => s.scrollHeight - s.scrollTop - s.clientHeight);
  check(gap <= 1, `the view stops ${gap} px short of the newest message`);
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

  const port = process.env.PORT ? Number(process.env.PORT) : await freePort();
  const base = `http://127.0.0.1:${port}`;
  const hello = "hello bob";
  const evil = "<img src=x onerror=alert(1)>";
  let alice;
  let bob;

  if (process.env.SEED_DB) {
    for (const suffix of ["", "-wal", "-shm"]) {
      if (fs.existsSync(process.env.SEED_DB + suffix)) fs.copyFileSync(process.env.SEED_DB + suffix, dbPath + suffix);
    }
  }

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

  await clientSteps(base);

  await browser.close();
  await stopServer(server);
  clearTimeout(watchdog);
  console.log(`browser: ${passed} passed, 0 failed`);
}

// clientSteps drives what the client does beyond delivery: grouping, unread,
// mentions, offline, reload, counter, rate limit, accessibility.
async function clientSteps(base) {
  const { alice, bob } = pages;
  const seeded = Boolean(process.env.SEED_DB);
  const erin = await openPage("erin", { width: 1280, height: 800 }, "dark");

  await step("the page is compressed and weighs under 40 KB; first paint measured", async () => {
    const html = await (await fetch(base)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
    check(assets.length >= 2, `assets of the page: ${assets}`);
    let total = 0;
    for (const url of ["/", ...assets]) {
      const { encoding, bytes } = await rawGet(`${base}${url}`, "gzip, deflate");
      check(encoding === "gzip", `${url}: Content-Encoding ${encoding}, want gzip`);
      total += bytes;
    }
    console.log(`    page weight (HTML + JS + CSS, gzip): ${(total / 1024).toFixed(1)} KB`);
    check(total < 40 * 1024, `page weight ${total} bytes, want under 40 KB`);
    await erin.goto(base, { waitUntil: "load" });
    const fcp = await erin.evaluate(
      () =>
        new Promise((resolve) => {
          new PerformanceObserver((list) => resolve(list.getEntries()[0].startTime)).observe({ type: "paint", buffered: true });
          setTimeout(() => resolve(-1), 3000);
        }),
    );
    console.log(`    first paint of the join screen: ${Math.round(fcp)} ms (-1: none within 3 s)`);
  });

  await step("axe-core: the join screen has no violations, light and dark", async () => {
    await axeCheck(erin, "join screen, dark");
    await erin.emulateMedia({ colorScheme: "light" });
    await axeCheck(erin, "join screen, light");
    await erin.emulateMedia({ colorScheme: "dark" });
  });

  let windowStart = 0;
  await step("erin joins and sends two messages", async () => {
    await erin.getByLabel("Your name").fill("erin");
    await erin.getByLabel("Your name").press("Enter");
    await waitState(erin, "connected", "Connected");
    windowStart = Date.now();
    await send(erin, "erin one");
    await send(erin, "erin two");
    await waitText(alice, "erin two");
  });

  if (seeded) {
    await step("earlier days: day separators, and runs of one author share one header", async () => {
      const days = await alice.locator("#messages li.day").allTextContents();
      check(days.length === 3 && days[1] === "Yesterday" && days[2] === "Today" && /day, /.test(days[0]), `day separators ${JSON.stringify(days)}`);
      const cls = async (text) => alice.locator("#messages li.msg", { hasText: text }).first().getAttribute("class");
      check(!(await cls("carol run 0")).includes("cont"), "the first of carol's run has no header");
      check((await cls("carol run 1")).includes("cont") && (await cls("carol run 2")).includes("cont"), "carol's run repeats its header");
      check(!(await cls("dave after carol")).includes("cont"), "dave's message after carol's run has no header");
      const first = alice.locator("#messages li.msg", { hasText: "carol run 0" });
      check((await first.locator(".avatar").textContent()) === "C", "carol's avatar initials");
      const colour = (name) => alice.locator("#messages li.msg:not(.cont) .author", { hasText: name }).first().evaluate((e) => getComputedStyle(e).color);
      check((await colour("carol")) !== (await colour("dave")), "carol and dave share a name colour");
      const h = await alice.locator("#messages li.msg.cont", { hasText: "carol run 1" }).evaluate((e) => e.getBoundingClientRect().height);
      check(h <= 30, `a one-line message in a run takes ${h} px`);
    });
  }

  await step("unread: count in the title, a line, a jump button that does not focus the box; @mention", async () => {
    await alice.locator("#scroller").evaluate((s) => s.scrollBy(0, -300));
    await alice.locator("#jump-latest").waitFor({ state: "visible" });
    await send(bob, "@alice look at this");
    await waitText(alice, "look at this");
    await waitFor(async () => (await alice.title()) === "(1 · @1) Global chat", async () => `title "${await alice.title()}"`);
    check((await alice.locator("#jump-latest").textContent()).includes("1 new message"), "jump button without the count");
    const next = await alice.locator("#messages li.unread-line + li.msg").textContent();
    check(next.includes("look at this"), `the unread line is above "${next}"`);
    const mention = alice.locator("#messages li.msg.mention", { hasText: "look at this" });
    check((await mention.locator(".at.me").textContent()) === "@alice", "the mention is not highlighted");
    check(!(await bob.locator("#messages li.msg", { hasText: "look at this" }).getAttribute("class")).includes("mention"), "bob's own mention highlighted for him");
    await alice.locator("#jump-latest").click();
    await expectAtBottom(alice);
    await waitFor(async () => (await alice.title()) === "Global chat", async () => `title "${await alice.title()}"`);
    check(await alice.locator("#jump-latest").isHidden(), "jump button still shown at the bottom");
    check(!(await alice.evaluate(() => document.activeElement?.id === "message")), "the jump button focused the message box");
  });

  await step("@name completion from the online list", async () => {
    const box = alice.getByLabel("Message", { exact: true });
    await box.fill("");
    await box.pressSequentially("hi @bo");
    await alice.locator("#mention-list li", { hasText: "bob" }).waitFor();
    check((await alice.locator("#mention-list li").allTextContents()).join() === "bob", "names offered for @bo");
    await box.press("Tab");
    check((await box.inputValue()) === "hi @bob ", `completed to "${await box.inputValue()}"`);
    check(await alice.locator("#mention-list").isHidden(), "the list stays open after completing");
    await box.fill("");
  });

  await step("code in monospace, emoji-only messages larger", async () => {
    await send(alice, "run `go test ./...` first");
    await send(alice, "🎉🎉");
    await waitText(bob, "🎉🎉");
    const code = bob.locator("#messages li.msg code", { hasText: "go test ./..." });
    check(/mono/i.test(await code.evaluate((e) => getComputedStyle(e).fontFamily)), "inline code is not monospace");
    const size = await bob.locator("#messages li.msg .text.jumbo", { hasText: "🎉🎉" }).evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    check(size >= 30, `emoji-only message at ${size} px`);
  });

  await step("typing indicator: bob types, alice sees it; it goes when he sends", async () => {
    await sleep(3000); // what the earlier steps typed has gone from the lists
    const box = bob.getByLabel("Message", { exact: true });
    await box.pressSequentially("still typ", { delay: 30 });
    await alice.locator("#typing", { hasText: "bob is typing…" }).waitFor({ timeout: 4000 });
    check((await bob.locator("#typing").textContent()) === "", "bob sees himself typing");
    await box.pressSequentially("ing", { delay: 30 });
    await box.press("Enter");
    await waitText(alice, "still typing");
    await alice.locator("#typing", { hasText: "bob" }).waitFor({ state: "detached", timeout: 1000 }).catch(() => {});
    check(!(await alice.locator("#typing").textContent()).includes("bob"), "bob still shown typing after his message");
  });

  await step("offline: plain banner, grey presence, messages wait and go out at once when online", async () => {
    const noticesBefore = await alice.locator("#messages li.notice").allTextContents();
    phase = "offline-bob";
    await bob.context().setOffline(true);
    await waitState(bob, "offline", "Offline");
    check((await bob.locator("#conn-banner").textContent()).includes("You are offline"), "no offline banner");
    const dot = await bob.locator("#online-list .presence-dot").first().evaluate((e) => getComputedStyle(e).backgroundColor);
    const muted = await bob.locator("#online-list").evaluate((e) => getComputedStyle(e).color);
    check(dot === muted, `presence dot ${dot} while offline, want the muted ${muted}`);
    await send(bob, "offline one");
    await send(bob, "offline two");
    check((await bob.locator("#messages li.pending.waiting").count()) === 2, "the two messages are not shown as waiting");
    await sleep(6000); // the reconnect backoff grows meanwhile
    check((await alice.locator("#messages li.msg", { hasText: "offline one" }).count()) === 0, "sent while offline");
    const back = Date.now();
    await bob.context().setOffline(false);
    await waitState(bob, "connected", "Connected");
    const took = Date.now() - back;
    console.log(`    reconnected ${took} ms after the browser's online event`);
    check(took < 2500, `reconnected ${took} ms after the online event`);
    await waitText(alice, "offline two");
    await expectOnce(alice, ["offline one", "offline two"]);
    const shown = await texts(alice);
    check(shown.indexOf("offline one") < shown.indexOf("offline two"), "the queued messages arrived out of order");
    await bob.locator("#messages li.pending").first().waitFor({ state: "detached" });
    const notices = await alice.locator("#messages li.notice").allTextContents();
    check(
      JSON.stringify(notices) === JSON.stringify(noticesBefore) && !notices.some((n) => n.includes("left")),
      `bob's blip shows in alice's timeline: ${JSON.stringify(noticesBefore)} -> ${JSON.stringify(notices)}`,
    );
    phase = "after";
  });

  await step("a reload goes back into the room without the join screen", async () => {
    await alice.reload({ waitUntil: "domcontentloaded" });
    check(await alice.locator("#join-screen").isHidden(), "the join screen shows on reload");
    await waitState(alice, "connected", "Connected");
    check(await alice.locator("#join-screen").isHidden(), "the join screen shows after the reload");
    await waitText(alice, "offline two");
    await expectAtBottom(alice);
  });

  await step("the counter counts characters as the server does", async () => {
    const box = alice.getByLabel("Message", { exact: true });
    await box.fill("😀".repeat(1990));
    check((await alice.locator("#char-count").textContent()) === "10 left", `counter "${await alice.locator("#char-count").textContent()}"`);
    check((await box.inputValue()).length === 3980, "the box cut emoji the server accepts");
    await box.fill("a".repeat(2100));
    check((await alice.locator("#char-count").textContent()).startsWith("100 over the limit"), "no over-the-limit counter");
    check(await alice.locator("#send").isDisabled(), "send enabled over the limit");
    await box.press("Enter");
    check((await alice.locator("#messages li.pending").count()) === 0, "a message over the limit was sent");
    await box.fill("");
    check(await alice.locator("#char-count").isHidden(), "counter shown for an empty box");
  });

  await step("axe-core: the chat screen has no violations, light and dark", async () => {
    await axeCheck(alice, "chat screen, light");
    await alice.emulateMedia({ colorScheme: "dark" });
    await axeCheck(alice, "chat screen, dark");
    await alice.emulateMedia({ colorScheme: "light" });
  });

  for (const [name, page] of Object.entries(pages)) {
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: path.join(artifacts, `${name}-${page.viewportSize().width < 760 ? "phone" : "desktop"}-${scheme}.png`) });
    }
  }

  await step("rate limit: a warning before it, one countdown, automatic resend when clear, order kept", async () => {
    // erin's earlier messages have left the window: RATE_LIMIT fill it,
    // the next is held until the first of them leaves it.
    const wait = windowStart + RATE_WINDOW_S * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    for (let i = 1; i <= RATE_LIMIT; i++) await send(erin, `burst ${i}`);
    await waitText(alice, `burst ${RATE_LIMIT}`);
    // The acks said how many were left: a warning before the limit.
    await erin.locator("#send-hint", { hasText: "That was your last message for now" }).waitFor();
    await send(erin, "held one");
    const held = erin.locator("#messages li.pending .state.held");
    await held.waitFor();
    const first = Number(await held.locator(".held-left").textContent());
    await send(erin, "held two");
    check((await erin.getByText("Sending too fast").count()) === 1, "the rate-limit warning shows more than once");
    await sleep(1300);
    const later = Number(await held.locator(".held-left").textContent());
    check(first > 0 && later < first, `the countdown went from ${first} to ${later}`);
    await waitText(alice, "held two");
    await expectOnce(alice, ["held one", "held two"]);
    const shown = await texts(alice);
    check(shown.indexOf(`burst ${RATE_LIMIT}`) < shown.indexOf("held one") && shown.indexOf("held one") < shown.indexOf("held two"), "held messages out of order");
    await erin.locator("#messages li.pending").first().waitFor({ state: "detached" });
  });

  await step("Leave forgets the session: a reload shows the join screen", async () => {
    await bob.locator("#leave").click();
    await bob.locator("#join-screen").waitFor({ state: "visible" });
    await bob.reload({ waitUntil: "load" });
    await bob.locator("#join-screen").waitFor({ state: "visible" });
    check(await bob.locator("#chat-screen").isHidden(), "the room shows after leaving and reloading");
  });
}

// waitFor polls cond until it holds, failing with describe() after WAIT_MS.
async function waitFor(cond, describe) {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(100);
  }
  throw new Error(`still ${await describe()}`);
}

// rawGet fetches url asking for the encodings given and returns the
// Content-Encoding and the number of bytes sent (not decoded).
function rawGet(url, acceptEncoding) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { "Accept-Encoding": acceptEncoding } }, (res) => {
      let bytes = 0;
      res.on("data", (c) => (bytes += c.length));
      res.on("end", () => resolve({ encoding: res.headers["content-encoding"] ?? "", bytes }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`GET ${url}: timed out`)));
  });
}

const AXE = fs.readFileSync(new URL("../node_modules/axe-core/axe.min.js", import.meta.url), "utf8");

// axeCheck runs axe-core on what page shows and fails on any violation.
async function axeCheck(page, what) {
  // Evaluated through the DevTools protocol, which the page's CSP (self
  // only) does not govern.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  console.log(`    axe-core, ${what}: ${violations.length} violations`);
  check(violations.length === 0, `axe-core, ${what}:\n  ${violations.join("\n  ")}`);
}

main().catch((err) => fail(err?.stack ?? String(err)));

// The operator's dashboard: signs in with the admin token, then polls the
// cluster's figures every second (live charts) and the time series every
// few seconds (the last hour, the events).

import "./admin.css";
import { enabled, history, live, Unauthorized, type Event, type History, type Live, type Point } from "./api";
import { Chart, format } from "./chart";

const LIVE_SECONDS = 300;
const HISTORY_EVERY_MS = 5_000;
const TOKEN_KEY = "globalchat-admin-token";
const ENDPOINTS = ["websocket", "polling", "api-messages", "api-online-users", "static", "ops"];

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

async function start(): Promise<void> {
  let on = false;
  try {
    on = await enabled();
  } catch (e) {
    showLogin(`The server does not answer: ${(e as Error).message}`);
    return;
  }
  if (!on) {
    $("setup").hidden = false;
    return;
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved && (await open(saved))) return;
  showLogin("");
}

function showLogin(error: string): void {
  const form = $<HTMLFormElement>("login");
  form.hidden = false;
  $("login-error").textContent = error;
  $("token").focus();
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const token = $<HTMLInputElement>("token").value.trim();
    $("login-error").textContent = "";
    if (!token) {
      $("login-error").textContent = "Enter the admin token.";
      return;
    }
    if (!(await open(token))) $("login-error").textContent = "The server refused this token.";
  };
}

/** Opens the board when the server takes token. */
async function open(token: string): Promise<boolean> {
  let first: Live;
  try {
    first = await live(token);
  } catch (e) {
    if (!(e instanceof Unauthorized)) $("login-error").textContent = (e as Error).message;
    sessionStorage.removeItem(TOKEN_KEY);
    return false;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $("login").hidden = true;
  $("board").hidden = false;
  const logout = $("logout");
  logout.hidden = false;
  logout.onclick = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.reload();
  };
  new Board(token).run(first);
  return true;
}

/** The signed-in dashboard. */
class Board {
  private readonly samples: Live[] = [];
  private readonly live = $("live");
  private readonly hour = $("hour");
  private readonly charts = {
    online: new Chart(this.live, "Online users and connections", ""),
    messages: new Chart(this.live, "Messages per second", "/s"),
    bytesIn: new Chart(this.live, "Bytes per second in, by endpoint", " B/s"),
    bytesOut: new Chart(this.live, "Bytes per second out, by endpoint", " B/s"),
    delivery: new Chart(this.live, "Delivery latency, emit to write (slowest instance)", " ms"),
    instances: new Chart(this.live, "Connections per instance", ""),
    hourBytes: new Chart(this.hour, "Bytes per second, all endpoints", " B/s"),
    hourEndpoints: new Chart(this.hour, "Bytes per second out, by endpoint", " B/s"),
    hourMessages: new Chart(this.hour, "Messages per second", "/s"),
    hourOnline: new Chart(this.hour, "Online users (highest in each interval)", ""),
  };

  constructor(private readonly token: string) {}

  run(first: Live): void {
    this.add(first);
    void this.loadHistory();
    setInterval(() => void this.poll(), 1000);
    setInterval(() => void this.loadHistory(), HISTORY_EVERY_MS);
  }

  private async poll(): Promise<void> {
    try {
      this.add(await live(this.token));
    } catch (e) {
      if (e instanceof Unauthorized) location.reload();
      this.showDeps({ dashboard: `no answer: ${(e as Error).message}` });
    }
  }

  private add(s: Live): void {
    this.samples.push(s);
    while (this.samples.length > LIVE_SECONDS) this.samples.shift();
    $("instance").textContent = `served by ${s.instance} · ${s.realtime.instances ?? 0} instance(s) reporting`;
    this.showDeps({ ...s.checks, mode: s.mode === "normal" || !s.mode ? "ok" : s.mode });
    this.showKPIs(s.realtime);
    this.drawLive();
  }

  private showDeps(checks: Record<string, string>): void {
    const list = $("deps");
    list.replaceChildren(...Object.keys(checks).sort().map((name) => {
      const li = document.createElement("li");
      const ok = checks[name] === "ok";
      li.dataset.check = name;
      li.dataset.state = ok ? "up" : "down";
      li.textContent = name === "mode" ? `mode: ${ok ? "normal" : checks[name]}` : ok ? `${name}: up` : `${name}: down (${checks[name]})`;
      return li;
    }));
  }

  private showKPIs(rt: Record<string, number>): void {
    const kpis: [string, string][] = [
      ["Online users", format(rt.online_users ?? 0)],
      ["Connections", format(rt.connections ?? 0)],
      ["Messages in/s", format(rt.messages_in_per_sec ?? 0)],
      ["Deliveries/s", format(rt.messages_out_per_sec ?? 0)],
      ["Bytes in/s", format(rt.bytes_in_per_sec ?? 0)],
      ["Bytes out/s", format(rt.bytes_out_per_sec ?? 0)],
      ["Delivery p99", `${rt.delivery_p99_ms ?? 0} ms`],
    ];
    $("kpis").replaceChildren(...kpis.flatMap(([k, v]) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dd.dataset.kpi = k;
      return [dt, dd];
    }));
  }

  private drawLive(): void {
    const t = this.samples.map((s) => s.at / 1000);
    const field = (name: string) => this.samples.map((s) => s.realtime[name] ?? 0);
    const perEndpoint = (suffix: string) =>
      Object.fromEntries(ENDPOINTS.map((ep) => [ep, field(`${ep}:${suffix}`)]));
    this.charts.online.set(t, { online: field("online_users"), connections: field("connections") });
    this.charts.messages.set(t, { in: field("messages_in_per_sec"), delivered: field("messages_out_per_sec") });
    this.charts.bytesIn.set(t, perEndpoint("bytes_in_per_sec"));
    this.charts.bytesOut.set(t, perEndpoint("bytes_out_per_sec"));
    this.charts.delivery.set(t, { p50: field("delivery_p50_ms"), p99: field("delivery_p99_ms") });
    const instances = new Set<string>();
    for (const s of this.samples) {
      for (const k of Object.keys(s.realtime)) {
        const m = /^instance:(.+):connections$/.exec(k);
        if (m) instances.add(m[1]!);
      }
    }
    this.charts.instances.set(t, Object.fromEntries([...instances].sort().map((id) => [id, field(`instance:${id}:connections`)])));
  }

  private async loadHistory(): Promise<void> {
    let h: History;
    try {
      h = await history(this.token, Date.now() / 1000 - 3600);
    } catch {
      return; // the live poll reports the trouble
    }
    if (!h.seriesError) this.drawHour(h.series);
    this.showEvents(h.events);
  }

  private drawHour(series: Record<string, Point[]>): void {
    const total = series.total ?? [];
    const t = total.map((p) => p[0]!);
    let step = 10;
    for (let i = 1; i < t.length; i++) step = Math.min(step, t[i]! - t[i - 1]!);
    step = Math.max(1, step);
    const col = (pts: Point[], i: number, rate = true) => {
      const by = new Map(pts.map((p) => [p[0]!, p[i]!]));
      return t.map((x) => (by.get(x) ?? 0) / (rate ? step : 1));
    };
    this.charts.hourBytes.set(t, { in: col(total, 1), out: col(total, 2) });
    this.charts.hourEndpoints.set(t, Object.fromEntries(ENDPOINTS.map((ep) => [ep, col(series[ep] ?? [], 2)])));
    this.charts.hourMessages.set(t, { in: col(total, 5), delivered: col(total, 6) });
    this.charts.hourOnline.set(t, { online: col(total, 9, false) });
  }

  private showEvents(events: Event[]): void {
    $("no-events").hidden = events.length > 0;
    $("events").replaceChildren(...events.slice().reverse().map((e) => {
      const li = document.createElement("li");
      const time = document.createElement("time");
      time.dateTime = new Date(e.at).toISOString();
      time.textContent = new Date(e.at).toLocaleTimeString();
      li.dataset.state = e.status === "ok" ? "up" : "down";
      const what = e.check === "mode" ? `mode: ${e.status === "ok" ? "normal" : e.status}` : `${e.check} ${e.status === "ok" ? "up" : `down: ${e.status}`}`;
      li.append(time, ` ${what}`);
      return li;
    }));
  }
}

void start();

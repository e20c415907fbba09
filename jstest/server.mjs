// Starts and stops the real globalchat binary for the drivers.
import { spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { sleep } from "./lib.mjs";

export class Server {
  constructor(env) {
    this.env = env;
    this.port = env.PORT;
    this.url = `http://127.0.0.1:${env.PORT}`;
    this.proc = null;
    this.log = "";
  }

  async start() {
    this.proc = spawn(process.env.GLOBALCHAT_BIN, [], {
      env: { ...process.env, LOG_LEVEL: "warn", ...this.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.proc.stderr.on("data", (d) => (this.log += d));
    const exited = new Promise((r) => this.proc.once("exit", r));
    this.exited = exited;
    const end = Date.now() + 10000;
    while (Date.now() < end) {
      try {
        const res = await fetch(this.url + "/healthz");
        if (res.ok) return;
      } catch {}
      await sleep(50);
    }
    throw new Error("server did not start: " + this.log);
  }

  // stop signals the server and returns its exit code.
  async stop(signal = "SIGTERM") {
    if (!this.proc) return null;
    this.proc.kill(signal);
    const code = await this.exited;
    this.proc = null;
    // SERVER_LOG_DIR keeps each server's log, e.g. to look for races in a
    // binary built with -race.
    if (process.env.SERVER_LOG_DIR) appendFileSync(`${process.env.SERVER_LOG_DIR}/server-${this.port}.log`, this.log);
    return code;
  }
}

export async function getJSON(url) {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

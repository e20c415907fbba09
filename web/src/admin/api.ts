// The dashboard's side of /admin/api: every call but status carries the
// admin token as a bearer token.

const TIMEOUT_MS = 5_000;

/** Thrown when the server refuses the token. */
export class Unauthorized extends Error {}

async function get(path: string, token: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (res.status === 401) throw new Unauthorized("the server refused this token");
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`.trim());
  const body: unknown = await res.json();
  if (typeof body !== "object" || body === null) throw new Error("unexpected answer from server");
  return body as Record<string, unknown>;
}

/** Whether ADMIN_TOKEN is set on the server. */
export async function enabled(): Promise<boolean> {
  return (await get("/admin/api/status", "")).enabled === true;
}

/** One second of the cluster, as /admin/api/live answers it. */
export interface Live {
  at: number;
  instance: string;
  /** This instance's mode: normal, redis away, store away, … */
  mode: string;
  checks: Record<string, string>;
  realtime: Record<string, number>;
}

export async function live(token: string): Promise<Live> {
  const b = await get("/admin/api/live", token);
  const realtime: Record<string, number> = {};
  for (const [k, v] of Object.entries((b.realtime ?? {}) as Record<string, string>)) realtime[k] = Number(v);
  return {
    at: Number(b.at),
    instance: String(b.instance ?? ""),
    mode: String(b.mode ?? ""),
    checks: (b.checks ?? {}) as Record<string, string>,
    realtime,
  };
}

/** A dependency's change of state. */
export interface Event {
  at: number;
  check: string;
  status: string;
}

/** Points: [t (unix s), bytes in, bytes out, frames in, frames out, messages in, messages out, opened, closed, online]. */
export type Point = number[];

export interface History {
  series: Record<string, Point[]>;
  /** Why the series are missing (Redis away). */
  seriesError: string;
  events: Event[];
}

export async function history(token: string, since: number): Promise<History> {
  const b = await get(`/admin/api/history?since=${Math.floor(since)}`, token);
  return {
    series: (b.series ?? {}) as Record<string, Point[]>,
    seriesError: String(b.seriesError ?? ""),
    events: (b.events ?? []) as Event[],
  };
}

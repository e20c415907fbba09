// The HTTP side of the server: history pages and the online list.

import { chatMessages, userRefs, type MessagesPage, type OnlineUsers } from "./types";

/** Every request gives up after this long. */
const TIMEOUT_MS = 10_000;

/** The JWT the API asks for in JWT mode ("" in guest mode). */
let bearer = "";

/** Sets the token sent as Authorization: Bearer with every request. */
export function setApiToken(token: string): void {
  bearer = token;
}

async function getJSON(path: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const res = await fetch(path, {
    headers,
    credentials: "same-origin",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`.trim();
    try {
      const body = (await res.json()) as { error?: { message?: string }; message?: string };
      detail = body.error?.message ?? body.message ?? detail;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new Error(detail);
  }
  const body: unknown = await res.json();
  if (typeof body !== "object" || body === null) throw new Error("unexpected answer from server");
  return body as Record<string, unknown>;
}

/** Messages with seq below before (0: the newest), oldest first. */
export async function fetchMessages(before: number, limit: number): Promise<MessagesPage> {
  const q = new URLSearchParams({ limit: String(limit) });
  if (before > 0) q.set("before", String(before));
  const body = await getJSON(`/api/messages?${q}`);
  return { messages: chatMessages(body.messages), hasMore: body.hasMore === true };
}

/** The number of users online and (some of) who they are. */
export async function fetchOnlineUsers(): Promise<OnlineUsers> {
  const body = await getJSON("/api/online-users");
  const users = userRefs(body.users);
  return { count: typeof body.count === "number" ? body.count : users.length, users };
}

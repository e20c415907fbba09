// "Alice is typing…": the server sends the cluster's list of who types
// once a second while anyone does (chat:typing); a user stays shown for a moment
// after they were last listed, and goes at once when their message comes.

import { byId } from "./dom";
import { userRefs } from "./types";

/** How long a user stays shown after the last list that named them. */
const SHOW_MS = 2500;
/** After a user's message, lists sent before it are ignored this long. */
const QUIET_MS = 1500;

/** TypingView shows who else is typing, above the message box. */
export class TypingView {
  private readonly node = byId("typing");
  private readonly users = new Map<string, { name: string; until: number }>();
  private readonly quiet = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly me: () => string) {}

  /** A chat:typing list from the server. */
  onList(p: unknown): void {
    const now = Date.now();
    const users = userRefs((p as { users?: unknown } | null)?.users);
    for (const u of users) {
      if (u.userId === this.me() || now - (this.quiet.get(u.userId) ?? 0) < QUIET_MS) continue;
      this.users.set(u.userId, { name: u.username, until: now + SHOW_MS });
    }
    this.render();
  }

  /** A message from userId arrived: they are done typing it. */
  messageFrom(userId: string): void {
    this.users.delete(userId);
    this.quiet.set(userId, Date.now());
    this.render();
  }

  /** Stops the timer (when leaving the room). */
  close(): void {
    clearTimeout(this.timer);
    this.users.clear();
    this.node.textContent = "";
  }

  private readonly render = (): void => {
    const now = Date.now();
    for (const [id, u] of this.users) if (u.until <= now) this.users.delete(id);
    for (const [id, at] of this.quiet) if (now - at >= QUIET_MS) this.quiet.delete(id);
    const names = [...this.users.values()].map((u) => u.name).sort((a, b) => a.localeCompare(b));
    this.node.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length === 2
            ? `${names[0]} and ${names[1]} are typing…`
            : `${names.length} people are typing…`;
    clearTimeout(this.timer);
    if (names.length > 0) this.timer = setTimeout(this.render, 500);
  };
}

// Comings and goings as one quiet line in the timeline ("alice joined ·
// bob and carol left"), updated while it is still the last thing shown.
// A leave waits 30 s before it is shown: when the same user comes back
// within that time (a reload, a network blip), neither is shown. The
// server's events are unchanged; only what the client shows is.

import type { Timeline } from "./timeline";
import type { UserRef } from "./types";

/** A leave followed by a join within this time is not shown. */
const BLIP_MS = 30_000;

/** PresenceNotices turns presence events into the timeline's summary line. */
export class PresenceNotices {
  private readonly held = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly joined = new Map<string, string>();
  private readonly left = new Map<string, string>();

  constructor(private readonly timeline: Timeline) {}

  /** Someone (not the user) joined. */
  join(u: UserRef): void {
    const timer = this.held.get(u.userId);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.held.delete(u.userId);
      return;
    }
    this.record(u, this.joined);
  }

  /** Someone (not the user) left: shown in 30 s unless they come back. */
  leave(u: UserRef): void {
    if (this.held.has(u.userId)) return;
    this.held.set(
      u.userId,
      setTimeout(() => {
        this.held.delete(u.userId);
        this.record(u, this.left);
      }, BLIP_MS),
    );
  }

  /** Stops the timers (when leaving the room). */
  close(): void {
    for (const t of this.held.values()) clearTimeout(t);
    this.held.clear();
  }

  private record(u: UserRef, into: Map<string, string>): void {
    const fresh = !this.timeline.lastIsSummary();
    if (fresh) {
      this.joined.clear();
      this.left.clear();
    }
    into.set(u.userId, u.username);
    const parts = [summarize([...this.joined.values()], "joined"), summarize([...this.left.values()], "left")];
    this.timeline.setSummary(parts.filter(Boolean).join(" · "), !fresh);
  }
}

/** "alice joined", "alice and bob left", "alice, bob and 3 others joined". */
export function summarize(names: string[], verb: string): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} ${verb}`;
  if (names.length === 2) return `${names[0]} and ${names[1]} ${verb}`;
  const rest = names.length - 2;
  return `${names[0]}, ${names[1]} and ${rest} other${rest === 1 ? "" : "s"} ${verb}`;
}

// The online count and the list of who is online. The list comes from
// GET /api/online-users; presence events only schedule a (debounced) refresh.

import { fetchOnlineUsers } from "./api";
import { byId, debounce, el } from "./dom";
import type { UserRef } from "./types";

/** Wide screens show the list open; phones start with it collapsed. */
const WIDE = "(min-width: 760px)";

/** OnlinePanel keeps the count and the list of online users up to date. */
export class OnlinePanel {
  private readonly count = byId("online-count");
  private readonly countList = byId("online-count-list");
  private readonly list = byId<HTMLUListElement>("online-list");
  private readonly more = byId("online-more");
  private readonly details = byId<HTMLDetailsElement>("online-details");
  private readonly media = window.matchMedia(WIDE);
  private myUserId = "";
  private users: UserRef[] = [];
  private generation = 0;
  private closed = false;

  /** Refreshes the list once presence events stop for a moment. */
  readonly scheduleRefresh = debounce(() => void this.refresh(), 750, 5000);

  constructor() {
    this.details.open = this.media.matches;
    this.media.addEventListener("change", this.onMedia);
  }

  /** Marks the user's own entry. */
  setMyUserId(id: string): void {
    this.myUserId = id;
  }

  /** The names of the others online (for @name completion). */
  names(): string[] {
    return this.users.filter((u) => u.userId !== this.myUserId).map((u) => u.username);
  }

  /** Shows the number of users online (from presence events). */
  setCount(n: number): void {
    if (!Number.isFinite(n) || n < 0) return;
    this.count.textContent = String(n);
    this.countList.textContent = String(n);
  }

  /** Fetches the list now; failures keep the last list (the next event retries). */
  async refresh(): Promise<void> {
    const gen = ++this.generation;
    try {
      const online = await fetchOnlineUsers();
      if (gen !== this.generation || this.closed) return; // a newer refresh won
      this.setCount(online.count);
      this.render(online.users, online.count);
    } catch {
      // Offline or server busy: the list stays as it was.
    }
  }

  /** Stops refreshing (when leaving the room). */
  close(): void {
    this.closed = true;
    this.scheduleRefresh.cancel();
    this.media.removeEventListener("change", this.onMedia);
  }

  private readonly onMedia = (e: MediaQueryListEvent) => {
    this.details.open = e.matches;
  };

  private render(users: UserRef[], count: number): void {
    const sorted = [...users].sort((a, b) => a.username.localeCompare(b.username));
    this.users = sorted;
    this.list.replaceChildren(
      ...sorted.map((u) =>
        el(
          "li",
          { class: u.userId === this.myUserId ? "me" : undefined },
          el("span", { class: "presence-dot", "aria-hidden": "true" }),
          u.username,
          u.userId === this.myUserId ? el("span", { class: "you" }, " (you)") : null,
        ),
      ),
    );
    const hidden = count - sorted.length;
    this.more.hidden = hidden <= 0;
    this.more.textContent = hidden > 0 ? `and ${hidden} more` : "";
  }
}

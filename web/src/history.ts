// History beyond what the socket delivers: older pages when the user
// scrolls up, and the messages missed across a reconnect that the server's
// chat:history does not reach back to, so the view has no gap.

import { fetchMessages } from "./api";
import { byId } from "./dom";
import type { Timeline } from "./timeline";
import type { ChatMessage, MessagesPage } from "./types";

/** Messages per page when scrolling up. */
const PAGE = 50;
/** Messages per request when filling a gap (the API's maximum). */
const GAP_PAGE = 100;
/** Beyond this many pages, a gap is closed by dropping what is older. */
const MAX_GAP_PAGES = 5;
/** Within this distance of the top, older messages are loaded. */
const TOP_PX = 150;

/** History loads older messages and fills gaps in the timeline. */
export class History {
  private readonly button = byId<HTMLButtonElement>("load-older");
  private readonly start = byId("history-start");
  private readonly error = byId("older-error");
  private hasMore = false;
  private loading = false;
  private primed = false;
  private readonly gaps: [number, number][] = [];
  private filling = false;
  private closed = false;

  constructor(
    private readonly timeline: Timeline,
    private readonly scroller: HTMLElement,
  ) {
    this.button.addEventListener("click", this.onLoadClick);
    this.scroller.addEventListener("scroll", this.onScroll, { passive: true });
    this.render();
  }

  /**
   * Merges a chat:history (sent on every connection that was not
   * recovered): when it starts after a gap from what is shown, the gap is
   * fetched over HTTP.
   */
  onHistory(messages: ChatMessage[]): void {
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    const first = sorted[0]?.seq ?? 0;
    const below = first > 0 ? this.timeline.newestBelow(first) : 0;
    this.timeline.addMessages(sorted);
    if (below > 0 && first > below + 1) this.queueGap(below, first);
    if (!this.primed) {
      this.primed = true;
      this.hasMore = this.timeline.size > 0 && this.timeline.minSeq() > 1;
      // Render first: the "Load older" button showing up after the scroll
      // left the view 18-21 px short of the newest message.
      this.render();
      this.timeline.scrollToBottom();
      this.fillViewport();
    }
  }

  /** Merges a live message, fetching what was skipped when seq jumps. */
  onMessage(m: ChatMessage): void {
    const newest = this.timeline.maxSeq();
    this.timeline.addMessages([m]);
    if (this.primed && newest > 0 && m.seq > newest + 1) this.queueGap(newest, m.seq);
  }

  /** Stops loading (when leaving the room). */
  close(): void {
    this.closed = true;
    this.button.removeEventListener("click", this.onLoadClick);
    this.scroller.removeEventListener("scroll", this.onScroll);
  }

  /** Loads the page of messages older than the oldest shown. */
  async loadOlder(): Promise<void> {
    if (this.loading || !this.hasMore || this.closed) return;
    this.loading = true;
    this.render();
    const list = this.timeline;
    try {
      const page = await fetchMessages(list.minSeq(), PAGE);
      if (this.closed) return;
      const added = list.addMessages(page.messages);
      this.hasMore = page.hasMore && page.messages.length > 0 && list.minSeq() > 1;
      this.error.textContent = "";
      if (added > 0 || !this.hasMore) this.fillViewport();
    } catch (err) {
      this.error.textContent = `Could not load older messages: ${(err as Error).message}.`;
    } finally {
      this.loading = false;
      this.render();
    }
  }

  private readonly onLoadClick = () => void this.loadOlder();

  private readonly onScroll = () => {
    // Tabbing onto the button scrolls it into view: that is not a request
    // to load (Enter or a click is).
    if (document.activeElement === this.button) return;
    if (this.scroller.scrollTop < TOP_PX) void this.loadOlder();
  };

  /** Keeps loading while the messages do not fill the view (no scroll event would). */
  private fillViewport(): void {
    requestAnimationFrame(() => {
      if (this.scroller.scrollHeight <= this.scroller.clientHeight + TOP_PX) void this.loadOlder();
    });
  }

  private render(): void {
    this.button.hidden = !this.hasMore;
    this.button.disabled = this.loading;
    this.button.textContent = this.loading ? "Loading…" : "Load older messages";
    this.start.hidden = this.hasMore || !this.primed || this.timeline.size === 0;
    this.scroller.setAttribute("aria-busy", String(this.loading));
  }

  private queueGap(lo: number, hi: number): void {
    this.gaps.push([lo, hi]);
    if (!this.filling) void this.drainGaps();
  }

  private async drainGaps(): Promise<void> {
    this.filling = true;
    try {
      for (let gap = this.gaps.shift(); gap && !this.closed; gap = this.gaps.shift()) {
        await this.fillGap(gap[0], gap[1]);
      }
    } finally {
      this.filling = false;
    }
  }

  /** Fetches the messages with lo < seq < hi, newest pages first. */
  private async fillGap(lo: number, hi: number): Promise<void> {
    let cursor = hi;
    for (let page = 0; page < MAX_GAP_PAGES; page++) {
      const got = await this.fetchWithRetry(cursor);
      // On failure the server has probably gone away again: the next
      // connection brings a new chat:history, which queues this gap again.
      if (!got || this.closed) return;
      this.timeline.addMessages(got.messages);
      const oldest = got.messages[0]?.seq ?? 0;
      if (oldest === 0 || !got.hasMore || oldest <= lo + 1) return;
      cursor = oldest;
    }
    // Too much was missed to fetch at once: drop what is older than the
    // fetched part, so the view never shows a hole; scrolling up reloads it.
    this.timeline.dropBelow(cursor);
    this.hasMore = true;
    this.render();
  }

  private async fetchWithRetry(before: number): Promise<MessagesPage | null> {
    for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, attempt * 1000));
      try {
        return await fetchMessages(before, GAP_PAGE);
      } catch {
        // Retried below.
      }
    }
    return null;
  }
}

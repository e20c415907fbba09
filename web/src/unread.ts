// Unread activity: messages from others that arrived while the tab was
// hidden or the view scrolled up. They are counted in the tab's title
// ("(3) Global chat", "(3 · @1) Global chat" with mentions) and on the
// "jump to latest" button, and the first is marked by a line.

import { byId } from "./dom";
import type { Timeline } from "./timeline";

/** Unread keeps the title, the jump button and the unread line. */
export class Unread {
  private readonly jump = byId<HTMLButtonElement>("jump-latest");
  private readonly baseTitle = document.title;
  private count = 0;
  private mentions = 0;

  constructor(
    private readonly timeline: Timeline,
    private readonly scroller: HTMLElement,
  ) {
    this.scroller.addEventListener("scroll", this.update, { passive: true });
    this.jump.addEventListener("click", this.onJump);
    document.addEventListener("visibilitychange", this.update);
    this.update();
  }

  /** Stops listening and restores the title (when leaving the room). */
  close(): void {
    this.scroller.removeEventListener("scroll", this.update);
    this.jump.removeEventListener("click", this.onJump);
    document.removeEventListener("visibilitychange", this.update);
    this.count = this.mentions = 0;
    this.jump.hidden = true;
    document.title = this.baseTitle;
  }

  /** Whether the user sees the newest messages now. */
  private reading(): boolean {
    return !document.hidden && this.timeline.atBottom();
  }

  /** A live message from someone else arrived (before the timeline scrolled for it). */
  arrived(seq: number, mentioned: boolean, wasReading: boolean): void {
    if (wasReading && !document.hidden) return;
    if (this.count === 0) this.timeline.markUnread(seq);
    this.count++;
    if (mentioned) this.mentions++;
    this.update();
  }

  /** The user sent a message: they have caught up. */
  caughtUp(): void {
    this.timeline.markUnread(0);
    this.count = this.mentions = 0;
    this.update();
  }

  private readonly update = () => {
    if (this.count > 0 && this.reading()) this.count = this.mentions = 0;
    const n = this.count;
    const at = this.mentions > 0 ? ` · @${this.mentions}` : "";
    document.title = n > 0 ? `(${n}${at}) ${this.baseTitle}` : this.baseTitle;
    this.jump.hidden = this.timeline.atBottom();
    this.jump.textContent = n > 0 ? `${n} new message${n === 1 ? "" : "s"} ↓` : "Jump to latest ↓";
  };

  /** Scrolls to the newest message; the focus stays where it is (no phone keyboard). */
  private readonly onJump = () => {
    this.timeline.scrollToBottom();
    this.update();
  };
}

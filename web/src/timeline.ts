// The timeline: messages kept in a map by seq (so none is shown twice) and
// rendered sorted by seq, presence notices placed after the newest message
// of their time, and the user's own unacknowledged messages at the end.

import { el } from "./dom";
import { appendLinkified } from "./linkify";
import type { ChatMessage } from "./types";

/** How many presence notices stay in the timeline; older ones are dropped. */
const MAX_NOTICES = 100;
/** Within this distance of the bottom, new content keeps the view at the bottom. */
const STICK_PX = 80;

interface Entry {
  seq: number;
  /** 0 for a message, 1 for a notice placed after the message with seq. */
  order: number;
  n: number;
  node: HTMLElement;
  msg?: ChatMessage;
}

interface Pending {
  content: string;
  node: HTMLElement;
}

function compare(a: Entry, b: Pick<Entry, "seq" | "order" | "n">): number {
  return a.seq - b.seq || a.order - b.order || a.n - b.n;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

function timeNode(iso: string): HTMLElement | null {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const today = new Date().toDateString() === d.toDateString();
  return el("time", { datetime: d.toISOString(), title: fullFmt.format(d) }, (today ? timeFmt : dateTimeFmt).format(d));
}

/** Callbacks from the timeline's buttons. */
export interface TimelineEvents {
  retry(clientMsgId: string): void;
}

/** Timeline owns the message list element and the view's scroll position. */
export class Timeline {
  private readonly entries: Entry[] = [];
  private readonly bySeq = new Map<number, Entry>();
  private readonly pending = new Map<string, Pending>();
  private readonly notices: Entry[] = [];
  private counter = 0;
  private myUserId = "";
  private retryDisabled = false;

  /** Whether the view was at the bottom at the last scroll. */
  private stuck = true;
  private readonly resizes = new ResizeObserver(() => {
    if (this.stuck) this.scrollToBottom();
  });

  constructor(
    private readonly list: HTMLOListElement,
    private readonly scroller: HTMLElement,
    private readonly events: TimelineEvents,
  ) {
    // When the view shrinks (a status line under the message box, the
    // online list opening on a phone, the keyboard), the newest message
    // stays in sight if it was.
    this.scroller.addEventListener("scroll", this.onScroll, { passive: true });
    this.resizes.observe(this.scroller);
  }

  /** Stops watching the view (when leaving the room). */
  close(): void {
    this.resizes.disconnect();
    this.scroller.removeEventListener("scroll", this.onScroll);
  }

  private readonly onScroll = () => {
    this.stuck = this.atBottom();
  };

  /** Number of messages shown (notices and pending ones excluded). */
  get size(): number {
    return this.bySeq.size;
  }

  /** The smallest seq shown, or 0 when there is none. */
  minSeq(): number {
    for (const e of this.entries) if (e.msg) return e.seq;
    return 0;
  }

  /** The largest seq shown, or 0 when there is none. */
  maxSeq(): number {
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i]!.msg) return this.entries[i]!.seq;
    return 0;
  }

  /** The largest seq shown that is below seq, or 0. */
  newestBelow(seq: number): number {
    let i = this.lowerBound({ seq, order: -1, n: 0 }) - 1;
    for (; i >= 0; i--) if (this.entries[i]!.msg) return this.entries[i]!.seq;
    return 0;
  }

  /** Whether the message with seq is shown. */
  has(seq: number): boolean {
    return this.bySeq.has(seq);
  }

  /** Records who the user is, so that their messages are marked as theirs. */
  setMyUserId(id: string): void {
    if (!id || id === this.myUserId) return;
    this.myUserId = id;
    for (const e of this.bySeq.values()) e.node.classList.toggle("mine", e.msg!.userId === id);
  }

  /** Adds messages not shown yet (by seq) and returns how many were new. */
  addMessages(msgs: readonly ChatMessage[]): number {
    let added = 0;
    this.mutate(() => {
      for (const m of msgs) {
        if (this.bySeq.has(m.seq)) continue;
        const entry: Entry = { seq: m.seq, order: 0, n: 0, node: this.messageNode(m), msg: m };
        this.insert(entry);
        this.bySeq.set(m.seq, entry);
        if (m.clientMsgId) this.dropPending(m.clientMsgId);
        added++;
      }
    });
    return added;
  }

  /** Removes every message and notice below seq (to close a gap for good). */
  dropBelow(seq: number): void {
    this.mutate(() => {
      const cut = this.lowerBound({ seq, order: -1, n: 0 });
      for (const e of this.entries.splice(0, cut)) {
        e.node.remove();
        if (e.msg) this.bySeq.delete(e.seq);
        else this.notices.splice(this.notices.indexOf(e), 1);
      }
    });
  }

  /** Adds a presence notice after the newest message shown. */
  addNotice(text: string): void {
    this.mutate(() => {
      const entry: Entry = {
        seq: this.maxSeq(),
        order: 1,
        n: ++this.counter,
        node: el("li", { class: "notice" }, text),
      };
      this.insert(entry);
      this.notices.push(entry);
      if (this.notices.length > MAX_NOTICES) {
        const old = this.notices.shift()!;
        this.entries.splice(this.entries.indexOf(old), 1);
        old.node.remove();
      }
    });
  }

  /** Shows the user's own message as pending until the server acknowledges it. */
  addPending(clientMsgId: string, content: string): void {
    this.mutate(() => {
      const node = this.pendingNode(clientMsgId, content);
      this.pending.set(clientMsgId, { content, node });
      this.list.append(node);
    }, true);
  }

  /** The text of a pending or failed message, for a retry. */
  pendingContent(clientMsgId: string): string | undefined {
    return this.pending.get(clientMsgId)?.content;
  }

  /** Shows a pending message as sending again. */
  markSending(clientMsgId: string): void {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    this.replacePending(p, this.pendingNode(clientMsgId, p.content));
  }

  /** Shows a pending message as failed, with the reason and a Retry button. */
  markFailed(clientMsgId: string, reason: string): void {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    this.replacePending(p, this.pendingNode(clientMsgId, p.content, reason));
  }

  private replacePending(p: Pending, node: HTMLElement): void {
    this.mutate(() => {
      p.node.replaceWith(node);
      p.node = node;
    });
  }

  /** Replaces a pending message with the message the server stored. */
  resolvePending(clientMsgId: string, msg: ChatMessage): void {
    this.mutate(() => {
      this.dropPending(clientMsgId);
      if (!this.bySeq.has(msg.seq)) {
        const entry: Entry = { seq: msg.seq, order: 0, n: 0, node: this.messageNode(msg), msg };
        this.insert(entry);
        this.bySeq.set(msg.seq, entry);
      }
    });
  }

  /** Enables or disables the Retry buttons (while rate limited). */
  setRetryDisabled(disabled: boolean): void {
    this.retryDisabled = disabled;
    for (const p of this.pending.values()) {
      const b = p.node.querySelector("button");
      if (b) b.disabled = disabled;
    }
  }

  /** Whether the view is scrolled to (or near) the newest message. */
  atBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= STICK_PX;
  }

  /** Scrolls to the newest message. */
  scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  /**
   * Runs a change to the list keeping what the user sees in place: at the
   * bottom it stays at the bottom (or goes there when toBottom), otherwise
   * the first visible item keeps its position, so older messages inserted
   * above do not move the view.
   */
  mutate(change: () => void, toBottom = false): void {
    const stick = toBottom || this.atBottom();
    const anchor = stick ? null : this.firstVisible();
    const before = anchor?.getBoundingClientRect().top ?? 0;
    change();
    if (stick) this.scrollToBottom();
    else if (anchor?.isConnected) this.scroller.scrollTop += anchor.getBoundingClientRect().top - before;
  }

  private firstVisible(): HTMLElement | null {
    const top = this.scroller.getBoundingClientRect().top;
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.node.getBoundingClientRect().bottom <= top) lo = mid + 1;
      else hi = mid;
    }
    return this.entries[lo]?.node ?? null;
  }

  private lowerBound(key: Pick<Entry, "seq" | "order" | "n">): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(this.entries[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insert(entry: Entry): void {
    const i = this.lowerBound(entry);
    const next = this.entries[i]?.node ?? this.pending.values().next().value?.node ?? null;
    this.list.insertBefore(entry.node, next);
    this.entries.splice(i, 0, entry);
  }

  private dropPending(clientMsgId: string): void {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    p.node.remove();
    this.pending.delete(clientMsgId);
  }

  private messageNode(m: ChatMessage): HTMLElement {
    const text = el("p", { class: "text" });
    appendLinkified(text, m.content);
    const li = el(
      "li",
      { class: m.userId === this.myUserId ? "msg mine" : "msg", "data-seq": String(m.seq) },
      el("div", { class: "meta" }, el("span", { class: "author" }, m.username), " ", timeNode(m.createdAt)),
      text,
    );
    return li;
  }

  private pendingNode(clientMsgId: string, content: string, failure?: string): HTMLElement {
    const text = el("p", { class: "text" });
    appendLinkified(text, content);
    const status = failure
      ? el("div", { class: "failure", role: "alert" }, el("span", {}, `Not sent: ${failure}`), " ", this.retryButton(clientMsgId))
      : el("div", { class: "sending" }, "Sending…");
    return el(
      "li",
      { class: failure ? "msg mine failed" : "msg mine pending", "data-client-msg-id": clientMsgId },
      el("div", { class: "meta" }, el("span", { class: "author" }, "You")),
      text,
      status,
    );
  }

  private retryButton(clientMsgId: string): HTMLButtonElement {
    const b = el("button", { type: "button", class: "retry" }, "Retry");
    b.disabled = this.retryDisabled;
    b.addEventListener("click", () => this.events.retry(clientMsgId));
    return b;
  }
}

// The timeline: messages kept in a map by seq (so none is shown twice) and
// rendered sorted by seq, grouped into runs by author with a separator at
// each new day, presence notices placed after the newest message of their
// time, an "unread" line, and the user's own unacknowledged messages at the
// end, in the order they were written.

import { el } from "./dom";
import { appendFormatted, colourClass, emojiOnly, initials } from "./format";
import type { ChatMessage } from "./types";

/** How many presence notices stay in the timeline; older ones are dropped. */
const MAX_NOTICES = 100;
/** Within this distance of the bottom, new content keeps the view at the bottom. */
const STICK_PX = 80;
/** Messages of one author closer than this share one header. */
const RUN_MS = 5 * 60_000;

interface Entry {
  seq: number;
  /** 0 for a message, 1 for a notice placed after the message with seq. */
  order: number;
  n: number;
  node: HTMLElement;
  msg?: ChatMessage;
  /** The day separator shown above the message, when it starts a day. */
  day?: HTMLElement;
  /** A presence summary that later presence events may update. */
  summary?: boolean;
}

/** The state of one of the user's own messages before the server stored it. */
export type PendingState =
  | { kind: "waiting" } // offline: goes out when connected
  | { kind: "sending" }
  | { kind: "held"; until: number } // rate limited: goes out at until
  | { kind: "queued" } // behind a held one
  | { kind: "failed"; reason: string };

interface Pending {
  content: string;
  node: HTMLElement;
}

function compare(a: Entry, b: Pick<Entry, "seq" | "order" | "n">): number {
  return a.seq - b.seq || a.order - b.order || a.n - b.n;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const yearDayFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full" });

function dateOf(m: ChatMessage): Date {
  const d = new Date(m.createdAt);
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
}

/** "Today", "Yesterday", "Monday, November 30" (with the year when not this one). */
export function dayLabel(d: Date, now = new Date()): string {
  const day = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const diff = Math.round((day(now) - day(d)) / 86_400_000);
  if (diff === 0) return "Today";
  if (diff === 1) return "Yesterday";
  return (d.getFullYear() === now.getFullYear() ? dayFmt : yearDayFmt).format(d);
}

function timeNode(d: Date): HTMLElement {
  return el("time", { datetime: d.toISOString(), title: fullFmt.format(d) }, timeFmt.format(d));
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
  private myName = "";
  /** The first unread message, marked by a line above it (0: none). */
  private unreadSeq = 0;
  private readonly unreadLine = el("li", { class: "unread-line" }, el("span", {}, "New messages"));

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
    // online list opening on a phone, the keyboard) or the list grows
    // (the "Load older" button showing up after the first scroll to the
    // bottom), the newest message stays in sight if it was.
    this.scroller.addEventListener("scroll", this.onScroll, { passive: true });
    this.resizes.observe(this.scroller);
    this.resizes.observe(this.list);
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
  setMe(id: string, name: string): void {
    if (name) this.myName = name;
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
        this.insertMessage(m);
        if (m.clientMsgId) this.dropPending(m.clientMsgId);
        added++;
      }
    });
    return added;
  }

  private insertMessage(m: ChatMessage): void {
    const entry: Entry = { seq: m.seq, order: 0, n: 0, node: this.messageNode(m), msg: m };
    this.bySeq.set(m.seq, entry);
    this.insert(entry);
  }

  /** Removes every message and notice below seq (to close a gap for good). */
  dropBelow(seq: number): void {
    this.mutate(() => {
      const cut = this.lowerBound({ seq, order: -1, n: 0 });
      for (const e of this.entries.splice(0, cut)) {
        e.node.remove();
        e.day?.remove();
        if (e.msg) this.bySeq.delete(e.seq);
        else this.notices.splice(this.notices.indexOf(e), 1);
      }
      this.decorate(0);
    });
  }

  /**
   * Shows a presence summary after the newest message: it replaces the
   * previous summary while that is still the last thing shown, so a burst
   * of comings and goings stays one quiet line. Returns false when it
   * replaced one.
   */
  setSummary(text: string, replace: boolean): boolean {
    const last = this.entries[this.entries.length - 1];
    if (replace && last?.summary) {
      last.node.textContent = text;
      return false;
    }
    this.addNotice(text, true);
    return true;
  }

  /** Whether the last thing shown is a presence summary. */
  lastIsSummary(): boolean {
    return this.entries[this.entries.length - 1]?.summary === true;
  }

  /** Adds a notice after the newest message shown. */
  addNotice(text: string, summary = false): void {
    this.mutate(() => {
      const entry: Entry = { seq: this.maxSeq(), order: 1, n: ++this.counter, node: el("li", { class: "notice" }, text), summary };
      this.insert(entry);
      this.notices.push(entry);
      if (this.notices.length > MAX_NOTICES) {
        const old = this.notices.shift()!;
        const i = this.entries.indexOf(old);
        this.entries.splice(i, 1);
        old.node.remove();
        this.decorate(i);
      }
    });
  }

  /** Marks seq as the first unread message (0: removes the mark). */
  markUnread(seq: number): void {
    if (seq === this.unreadSeq) return;
    const old = this.bySeq.get(this.unreadSeq);
    this.unreadSeq = seq;
    this.mutate(() => {
      this.unreadLine.remove();
      if (old) this.decorate(this.entries.indexOf(old));
      const e = this.bySeq.get(seq);
      if (e) this.decorate(this.entries.indexOf(e));
    });
  }

  /** Shows the user's own message as pending until the server stores it. */
  addPending(clientMsgId: string, content: string, state: PendingState): void {
    this.mutate(() => {
      const node = this.pendingNode(clientMsgId, content, state);
      this.pending.set(clientMsgId, { content, node });
      this.list.append(node);
    }, true);
  }

  /** The text of a pending or failed message, for a retry. */
  pendingContent(clientMsgId: string): string | undefined {
    return this.pending.get(clientMsgId)?.content;
  }

  /** Shows the state of a pending message. */
  setPending(clientMsgId: string, state: PendingState): void {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    const node = this.pendingNode(clientMsgId, p.content, state);
    this.mutate(() => {
      p.node.replaceWith(node);
      p.node = node;
    });
  }

  /** Updates the countdown of held messages without rebuilding them. */
  tickHeld(secondsLeft: number): void {
    for (const p of this.pending.values()) {
      const s = p.node.querySelector(".held-left");
      if (s) s.textContent = String(secondsLeft);
    }
  }

  /** Replaces a pending message with the message the server stored. */
  resolvePending(clientMsgId: string, msg: ChatMessage): void {
    this.mutate(() => {
      this.dropPending(clientMsgId);
      if (!this.bySeq.has(msg.seq)) this.insertMessage(msg);
    });
  }

  /** Whether the view is scrolled to (or near) the newest message. */
  atBottom(): boolean {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight <= STICK_PX;
  }

  /** Scrolls to the newest message. */
  scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.stuck = true;
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

  /** The first DOM node of an entry: its day separator, the unread line, or itself. */
  private head(e: Entry): HTMLElement {
    if (e.day) return e.day;
    return e.seq === this.unreadSeq && e.msg && this.unreadLine.isConnected ? this.unreadLine : e.node;
  }

  private insert(entry: Entry): void {
    const i = this.lowerBound(entry);
    const nextEntry = this.entries[i];
    const next = nextEntry ? this.head(nextEntry) : (this.pending.values().next().value?.node ?? null);
    this.list.insertBefore(entry.node, next);
    this.entries.splice(i, 0, entry);
    this.decorate(i);
    this.decorate(i + 1);
  }

  /**
   * Sets the day separator above the message at i and whether it continues
   * the run of the message before it (same author, same day, close in
   * time, no notice or unread line between): a run shows its author and
   * time once.
   */
  private decorate(i: number): void {
    const e = this.entries[i];
    if (!e?.msg) return;
    const prev = this.entries[i - 1];
    let prevMsg: ChatMessage | undefined;
    for (let j = i - 1; j >= 0 && !prevMsg; j--) prevMsg = this.entries[j]!.msg;
    const d = dateOf(e.msg);
    const newDay = !prevMsg || dateOf(prevMsg).toDateString() !== d.toDateString();
    const unread = e.seq === this.unreadSeq;
    if (unread) this.list.insertBefore(this.unreadLine, e.node);
    if (newDay) {
      e.day ??= el("li", { class: "day" }, el("span", {}, ""));
      e.day.firstElementChild!.textContent = dayLabel(d);
      this.list.insertBefore(e.day, unread ? this.unreadLine : e.node);
    } else if (e.day) {
      e.day.remove();
      e.day = undefined;
    }
    const cont =
      !newDay &&
      !unread &&
      prev?.msg !== undefined &&
      prev.msg.userId === e.msg.userId &&
      d.getTime() - dateOf(prev.msg).getTime() < RUN_MS;
    e.node.classList.toggle("cont", cont);
  }

  private dropPending(clientMsgId: string): void {
    const p = this.pending.get(clientMsgId);
    if (!p) return;
    p.node.remove();
    this.pending.delete(clientMsgId);
  }

  /** A message row: avatar, author and time (hidden in a run but to screen readers), text. */
  private row(userId: string, name: string, when: Date | null, content: string, cls: string): HTMLElement {
    const text = el("div", { class: emojiOnly(content) ? "text jumbo" : "text" });
    const mentioned = appendFormatted(text, content, userId === this.myUserId ? "" : this.myName);
    const colour = colourClass(userId);
    return el(
      "li",
      { class: `${cls}${mentioned ? " mention" : ""}` },
      el("span", { class: `avatar ${colour}`, "aria-hidden": "true" }, initials(name)),
      el("div", { class: "meta" }, el("span", { class: `author ${colour}` }, name), " ", when ? timeNode(when) : null),
      text,
    );
  }

  private messageNode(m: ChatMessage): HTMLElement {
    const li = this.row(m.userId, m.username, dateOf(m), m.content, m.userId === this.myUserId ? "msg mine" : "msg");
    li.dataset.seq = String(m.seq);
    return li;
  }

  private pendingNode(clientMsgId: string, content: string, state: PendingState): HTMLElement {
    const li = this.row(this.myUserId, this.myName, null, content, `msg mine pending ${state.kind}`);
    li.dataset.clientMsgId = clientMsgId;
    li.append(this.stateNode(clientMsgId, state));
    return li;
  }

  private stateNode(clientMsgId: string, state: PendingState): HTMLElement {
    switch (state.kind) {
      case "waiting":
        return el("div", { class: "state" }, "Waiting for the connection: sent when you are back online");
      case "sending":
        return el("div", { class: "state" }, "Sending…");
      case "queued":
        return el("div", { class: "state" }, "Waiting to send");
      case "held": {
        const left = String(Math.max(1, Math.ceil((state.until - Date.now()) / 1000)));
        return el("div", { class: "state held" }, "Sending too fast: sent automatically in ", el("span", { class: "held-left" }, left), " s");
      }
      case "failed": {
        const b = el("button", { type: "button", class: "retry" }, "Retry");
        b.addEventListener("click", () => this.events.retry(clientMsgId));
        return el("div", { class: "state failure" }, el("span", {}, `Not sent: ${state.reason}`), " ", b);
      }
    }
  }
}

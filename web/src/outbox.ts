// The user's messages on their way to the server, in the order written:
// one at a time, so that the server stores them in that order. While
// offline they wait; when the server says "too fast" they are held, with a
// countdown on the bubble, and go out by themselves when the limit clears;
// a message that was sent but not answered is sent again with the same
// clientMsgId, which the server stores once.

import { uuid } from "./dom";
import type { PendingState, Timeline } from "./timeline";
import type { ChatMessage, SendAck } from "./types";

/** Tries of a message the server did not answer (while connected). */
const MAX_TRIES = 3;

const CODE_TEXT: Record<string, string> = {
  invalid_message: "the message was not accepted",
  unavailable: "the chat is temporarily unavailable",
};

/** What the outbox needs from the connection. */
export interface Link {
  connected(): boolean;
  /** Sends one message; cb gets an error when no answer came in time. */
  emit(clientMsgId: string, content: string, cb: (err: Error | null, res: SendAck) => void): void;
  /** The server stored the message; remaining is how many more the user may send now. */
  stored(clientMsgId: string, msg: ChatMessage, remaining: number | undefined): void;
}

interface Item {
  id: string;
  content: string;
  tries: number;
}

/** Outbox queues the user's messages and sends them in order. */
export class Outbox {
  private readonly queue: Item[] = [];
  /** Bumped when the connection drops: answers to older sends are stale. */
  private generation = 0;
  private inflight = false;
  private heldUntil = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly timeline: Timeline,
    private readonly link: Link,
  ) {}

  /** Queues a new message and sends it when it can. */
  add(content: string): void {
    const item = { id: uuid(), content, tries: 0 };
    this.queue.push(item);
    this.timeline.addPending(item.id, content, this.waitState());
    this.pump();
  }

  /** Queues a failed message again (same clientMsgId), behind the others. */
  retry(clientMsgId: string): void {
    const content = this.timeline.pendingContent(clientMsgId);
    if (content === undefined || this.queue.some((i) => i.id === clientMsgId)) return;
    this.queue.push({ id: clientMsgId, content, tries: 0 });
    this.timeline.setPending(clientMsgId, this.waitState());
    this.pump();
  }

  /** The connection dropped: what was in flight is sent again once back. */
  disconnected(): void {
    this.generation++;
    this.inflight = false;
    for (const i of this.queue) this.timeline.setPending(i.id, { kind: "waiting" });
  }

  /** Stops every timer (when leaving the room). */
  close(): void {
    this.generation++;
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.queue.length = 0;
  }

  /** Sends the oldest queued message, when connected and not held. */
  readonly pump = (): void => {
    const head = this.queue[0];
    if (this.inflight || !head) return;
    if (!this.link.connected()) {
      for (const i of this.queue) this.timeline.setPending(i.id, { kind: "waiting" });
      return;
    }
    if (Date.now() < this.heldUntil) return;
    this.inflight = true;
    head.tries++;
    this.timeline.setPending(head.id, { kind: "sending" });
    const gen = this.generation;
    this.link.emit(head.id, head.content, (err, res) => {
      if (res?.ok === true) {
        // Even a late answer is the stored message: show it.
        this.link.stored(head.id, res.message, typeof res.remaining === "number" ? res.remaining : undefined);
        if (gen === this.generation) this.done(head);
        return;
      }
      if (gen !== this.generation) return;
      this.inflight = false;
      if (err) this.unanswered(head);
      else this.refused(head, res);
    });
  };

  private waitState(): PendingState {
    if (!this.link.connected()) return { kind: "waiting" };
    if (Date.now() < this.heldUntil) return { kind: "queued" };
    return { kind: "sending" };
  }

  private done(item: Item): void {
    this.inflight = false;
    this.queue.splice(this.queue.indexOf(item), 1);
    this.pump();
  }

  private unanswered(item: Item): void {
    if (!this.link.connected()) {
      this.timeline.setPending(item.id, { kind: "waiting" });
      return; // sent again on reconnect
    }
    if (item.tries < MAX_TRIES) {
      this.pump();
      return;
    }
    this.fail(item, "no answer from the server");
  }

  private refused(item: Item, res: SendAck): void {
    const error = res && res.ok === false ? res.error : undefined;
    if (error?.code === "rate_limited") {
      item.tries = 0;
      this.hold(Number(error.retryAfterMs));
      return;
    }
    const text = typeof error?.message === "string" && error.message ? error.message : CODE_TEXT[error?.code ?? ""];
    this.fail(item, text ?? "unexpected answer from the server");
  }

  private fail(item: Item, reason: string): void {
    this.queue.splice(this.queue.indexOf(item), 1);
    this.timeline.setPending(item.id, { kind: "failed", reason });
    this.pump();
  }

  /** Holds the queue for ms (the server's retryAfterMs), counting down on each bubble. */
  private hold(ms: number): void {
    const wait = Number.isFinite(ms) && ms > 0 ? Math.min(ms, 10 * 60_000) : 1000;
    // A little past the server's figure, so the resend is not refused again.
    this.heldUntil = Date.now() + wait + 150;
    // The countdown shows once, on the first; the others wait behind it.
    this.queue.forEach((i, n) => this.timeline.setPending(i.id, n === 0 ? { kind: "held", until: this.heldUntil } : { kind: "queued" }));
    clearInterval(this.ticker);
    this.ticker = setInterval(() => {
      const left = this.heldUntil - Date.now();
      if (left > 0) {
        this.timeline.tickHeld(Math.ceil(left / 1000));
        return;
      }
      clearInterval(this.ticker);
      for (const i of this.queue) this.timeline.setPending(i.id, { kind: "sending" });
      this.pump();
    }, 250);
  }
}

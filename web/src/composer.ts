// The message box: Enter sends, Shift+Enter starts a new line, and while the
// server says the user is sending too fast, sending waits for a countdown.

import { byId } from "./dom";

/** Tallest the box grows before it scrolls, in pixels. */
const MAX_HEIGHT = 160;

/** Composer owns the message form. */
export class Composer {
  private readonly form = byId<HTMLFormElement>("composer");
  private readonly input = byId<HTMLTextAreaElement>("message");
  private readonly button = byId<HTMLButtonElement>("send");
  private readonly status = byId("composer-status");
  private limitedUntil = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  /**
   * send is called with the trimmed text; onLimitChange when sending becomes
   * blocked or allowed again (the timeline disables its Retry buttons).
   */
  constructor(
    private readonly send: (content: string) => void,
    private readonly onLimitChange: (limited: boolean) => void,
  ) {
    this.form.addEventListener("submit", this.onSubmit);
    this.input.addEventListener("keydown", this.onKeyDown);
    this.input.addEventListener("input", this.resize);
  }

  /** Whether sending is blocked by the rate limit. */
  get limited(): boolean {
    return Date.now() < this.limitedUntil;
  }

  /** Puts the keyboard focus in the message box. */
  focus(): void {
    this.input.focus();
  }

  /** Blocks sending for ms and shows a countdown. */
  rateLimited(ms: number): void {
    const wait = Number.isFinite(ms) && ms > 0 ? Math.min(ms, 10 * 60_000) : 1000;
    this.limitedUntil = Math.max(this.limitedUntil, Date.now() + wait);
    this.button.disabled = true;
    this.onLimitChange(true);
    this.tick();
    if (this.timer === undefined) this.timer = setInterval(this.tick, 250);
  }

  /** Shows a short note under the box (an error that is not about one message). */
  note(text: string): void {
    if (!this.limited) this.status.textContent = text;
  }

  /** Stops timers and listeners (when leaving the room). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.form.removeEventListener("submit", this.onSubmit);
    this.input.removeEventListener("keydown", this.onKeyDown);
    this.input.removeEventListener("input", this.resize);
    this.limitedUntil = 0;
    this.button.disabled = false;
    this.status.textContent = "";
  }

  private readonly tick = () => {
    const left = this.limitedUntil - Date.now();
    if (left > 0) {
      this.status.textContent = `You are sending too fast. You can send again in ${Math.ceil(left / 1000)} s.`;
      return;
    }
    clearInterval(this.timer);
    this.timer = undefined;
    this.button.disabled = false;
    this.status.textContent = "";
    this.onLimitChange(false);
  };

  private readonly onSubmit = (e: SubmitEvent) => {
    e.preventDefault();
    this.submit();
  };

  private readonly onKeyDown = (e: KeyboardEvent) => {
    // While an input method composes text, Enter confirms the composition.
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    this.submit();
  };

  private submit(): void {
    const content = this.input.value.trim();
    if (!content || this.limited) return;
    this.send(content);
    this.input.value = "";
    this.resize();
    this.status.textContent = "";
  }

  private readonly resize = () => {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT)}px`;
  };
}

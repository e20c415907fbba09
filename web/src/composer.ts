// The message box: Enter sends, Shift+Enter starts a new line, a counter
// near the server's limit (counted as the server counts: characters, not
// UTF-16 units), and @name completion from the online list.

import { byId, el } from "./dom";
import { charCount } from "./format";

/** Tallest the box grows before it scrolls, in pixels. */
const MAX_HEIGHT = 160;
/** The server's limit, in characters after trimming (chat/validate.go). */
export const MAX_CONTENT = 2000;
/** The counter shows from this many characters on. */
const COUNT_FROM = MAX_CONTENT - 200;
/** Names offered at once. */
const MAX_SUGGESTIONS = 6;
/** The allowance hint shows from this many messages left. */
const ALLOWANCE_HINT = 3;
/** While the user types, the server hears so at most this often. */
const TYPING_EVERY_MS = 2000;

/** Composer owns the message form. */
export class Composer {
  private readonly form = byId<HTMLFormElement>("composer");
  private readonly input = byId<HTMLTextAreaElement>("message");
  private readonly button = byId<HTMLButtonElement>("send");
  private readonly counter = byId("char-count");
  private readonly suggest = byId<HTMLUListElement>("mention-list");
  private readonly hint = byId("send-hint");
  private hintTimer: ReturnType<typeof setTimeout> | undefined;
  private options: string[] = [];
  private active = 0;
  private typedAt = 0;

  /** send gets the trimmed text; names gives who can be mentioned; typing is called while the user types (throttled). */
  constructor(
    private readonly send: (content: string) => void,
    private readonly names: () => string[],
    private readonly typing: () => void,
  ) {
    this.form.addEventListener("submit", this.onSubmit);
    this.input.addEventListener("keydown", this.onKeyDown);
    this.input.addEventListener("input", this.onInput);
    this.input.addEventListener("blur", this.onBlur);
    this.suggest.addEventListener("mousedown", this.onPick);
    this.onInput();
  }

  /** Puts the keyboard focus in the message box. */
  focus(): void {
    this.input.focus();
  }

  /**
   * Warns before the rate limit rather than after: shown for a few
   * seconds when the server says only a few more messages may go now.
   */
  allowance(remaining: number): void {
    clearTimeout(this.hintTimer);
    this.hint.textContent =
      remaining > ALLOWANCE_HINT ? "" : remaining === 0 ? "That was your last message for now: the next ones wait a moment." : `${remaining} more message${remaining === 1 ? "" : "s"} this minute.`;
    this.hintTimer = setTimeout(() => (this.hint.textContent = ""), 8000);
  }

  /** Stops listeners (when leaving the room). */
  close(): void {
    clearTimeout(this.hintTimer);
    this.hint.textContent = "";
    this.form.removeEventListener("submit", this.onSubmit);
    this.input.removeEventListener("keydown", this.onKeyDown);
    this.input.removeEventListener("input", this.onInput);
    this.input.removeEventListener("blur", this.onBlur);
    this.suggest.removeEventListener("mousedown", this.onPick);
    this.showSuggestions([]);
  }

  private readonly onSubmit = (e: SubmitEvent) => {
    e.preventDefault();
    this.submit();
  };

  private readonly onKeyDown = (e: KeyboardEvent) => {
    if (this.options.length > 0) {
      const step = e.key === "ArrowDown" ? 1 : e.key === "ArrowUp" ? -1 : 0;
      if (step !== 0) {
        e.preventDefault();
        this.active = (this.active + step + this.options.length) % this.options.length;
        this.showSuggestions(this.options);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        this.complete(this.options[this.active]!);
        return;
      }
      if (e.key === "Escape") {
        this.showSuggestions([]);
        return;
      }
    }
    // While an input method composes text, Enter confirms the composition.
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    this.submit();
  };

  private submit(): void {
    const content = this.input.value.trim();
    if (!content || charCount(content) > MAX_CONTENT) return;
    this.send(content);
    this.input.value = "";
    this.typedAt = 0;
    this.onInput();
  }

  private readonly onInput = (e?: Event) => {
    if (e && this.input.value.trim() !== "" && Date.now() - this.typedAt >= TYPING_EVERY_MS) {
      this.typedAt = Date.now();
      this.typing();
    }
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_HEIGHT)}px`;
    const n = charCount(this.input.value);
    const over = n > MAX_CONTENT;
    this.counter.hidden = n < COUNT_FROM;
    this.counter.textContent = over ? `${n - MAX_CONTENT} over the limit of ${MAX_CONTENT}` : `${MAX_CONTENT - n} left`;
    this.counter.classList.toggle("over", over);
    this.button.disabled = over;
    this.input.setAttribute("aria-invalid", String(over));
    // "@al" right before the caret offers the names that start so.
    const before = this.input.value.slice(0, this.input.selectionStart ?? 0);
    const m = /(?:^|\s)@([^\s@]*)$/u.exec(before);
    const prefix = m?.[1]?.toLocaleLowerCase();
    this.active = 0;
    this.showSuggestions(
      prefix === undefined ? [] : this.names().filter((n) => n.toLocaleLowerCase().startsWith(prefix)).slice(0, MAX_SUGGESTIONS),
    );
  };

  private readonly onBlur = () => this.showSuggestions([]);

  private readonly onPick = (e: MouseEvent) => {
    const li = (e.target as HTMLElement).closest("li");
    if (!li) return;
    e.preventDefault(); // keeps the focus in the box
    this.complete(li.textContent ?? "");
  };

  /** Replaces the "@al" before the caret with "@alice ". */
  private complete(name: string): void {
    const caret = this.input.selectionStart ?? 0;
    const before = this.input.value.slice(0, caret).replace(/@[^\s@]*$/u, `@${name} `);
    this.input.value = before + this.input.value.slice(caret);
    this.input.setSelectionRange(before.length, before.length);
    this.showSuggestions([]);
    this.input.focus();
  }

  private showSuggestions(names: string[]): void {
    this.options = names;
    this.suggest.hidden = names.length === 0;
    this.suggest.replaceChildren(
      ...names.map((n, i) =>
        el("li", { role: "option", id: `mention-${i}`, "aria-selected": String(i === this.active) }, n),
      ),
    );
    if (names.length > 0) this.input.setAttribute("aria-activedescendant", `mention-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }
}

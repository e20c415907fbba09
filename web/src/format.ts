// Message text to DOM: fenced (```) and inline (`) code in monospace, @name
// mentions marked, http(s) links; and the small facts the timeline shows
// beside a message (initials, a colour per user, emoji-only). Nothing is
// ever parsed as HTML.

import { el } from "./dom";
import { appendLinkified } from "./linkify";

const CODE_RE = /```(?:[^\n`]*\n)?([\s\S]*?)```|`([^`\n]+)`/g;
/** An @ that starts a word, then what may be a name (up to the next blank). */
const AT_RE = /(^|[\s(])@([^\s@,;:!?()]+)/gu;
/** Names in a mention are compared ignoring case. */
const fold = (s: string) => s.toLocaleLowerCase();

/**
 * Appends content to parent: code spans, mentions and links. me is the
 * reader's name; returns whether the content mentions them.
 */
export function appendFormatted(parent: HTMLElement, content: string, me: string): boolean {
  let mentioned = false;
  let last = 0;
  const prose = (text: string) => {
    if (text) mentioned = appendMentions(parent, text, me) || mentioned;
  };
  for (const m of content.matchAll(CODE_RE)) {
    const start = m.index ?? 0;
    prose(content.slice(last, start));
    parent.append(m[1] !== undefined ? el("pre", {}, el("code", {}, m[1].replace(/\n$/, ""))) : el("code", {}, m[2]!));
    last = start + m[0].length;
  }
  prose(content.slice(last));
  return mentioned;
}

/** Appends prose with @name tokens marked; returns whether me is mentioned. */
function appendMentions(parent: HTMLElement, text: string, me: string): boolean {
  let mentioned = false;
  let last = 0;
  const mine = me ? fold(me) : "";
  for (const m of text.matchAll(AT_RE)) {
    // A name with spaces is matched in full when it is the reader's.
    const at = (m.index ?? 0) + m[1]!.length;
    const after = text.slice(at + 1);
    const isMe = mine !== "" && fold(after.slice(0, me.length)) === mine && !/^[\p{L}\p{N}]/u.test(after.slice(me.length));
    const name = isMe ? after.slice(0, me.length) : m[2]!;
    appendLinkified(parent, text.slice(last, at));
    parent.append(el("span", { class: isMe ? "at me" : "at" }, `@${name}`));
    mentioned ||= isMe;
    last = at + 1 + name.length;
  }
  appendLinkified(parent, text.slice(last));
  return mentioned;
}

/** Whether content mentions the name (as appendFormatted would mark it). */
export function mentions(content: string, me: string): boolean {
  return appendFormatted(document.createElement("p"), content, me);
}

const EMOJI_ONLY = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{Emoji_Modifier}|\u200d|\ufe0f|\s)+$/u;
const DIGITS = /[0-9#*]/;

/** Whether content is only a few emoji (shown larger). */
export function emojiOnly(content: string): boolean {
  if (!EMOJI_ONLY.test(content) || DIGITS.test(content)) return false;
  const pictos = content.match(/\p{Extended_Pictographic}/gu)?.length ?? 0;
  return pictos > 0 && pictos <= 6;
}

/** Up to two initials of a name: "Ada Lovelace" -> "AL", "bob" -> "B". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w));
  const first = (w: string | undefined) => (w ? ([...w].find((c) => /[\p{L}\p{N}]/u.test(c)) ?? "") : "");
  const out = first(words[0]) + (words.length > 1 ? first(words[words.length - 1]) : "");
  return (out || [...name.trim()][0] || "?").toLocaleUpperCase();
}

/** Number of name colours in style.css (.c0 to .c7). */
const COLOURS = 8;

/** The colour class of a user: the same for a user id everywhere, every time. */
export function colourClass(userId: string): string {
  let h = 2166136261;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 16777619);
  return `c${(h >>> 0) % COLOURS}`;
}

/** Characters as the server counts them: code points of the trimmed text. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text.trim()) n++;
  return n;
}

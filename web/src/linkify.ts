// Turns message text into DOM nodes: plain text nodes, and anchors for
// http(s) URLs built with DOM APIs, so no text is ever parsed as HTML.

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// Punctuation that usually ends a sentence rather than a URL.
const TRAILING_RE = /[.,;:!?'"»”’]+$/;

/** Splits a URL match from the punctuation that follows it in prose. */
function trimUrl(raw: string): string {
  let url = raw.replace(TRAILING_RE, "");
  // A closing parenthesis belongs to the URL only when it has an opening one
  // (https://en.wikipedia.org/wiki/Go_(language)); otherwise it is prose.
  while (url.endsWith(")") && count(url, "(") < count(url, ")")) {
    url = url.slice(0, -1).replace(TRAILING_RE, "");
  }
  return url;
}

function count(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/** Returns href when it is a well-formed http or https URL, else null. */
export function safeHref(raw: string): string | null {
  try {
    const u = new URL(raw);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** Appends text to parent, with http(s) URLs as links opening a new tab. */
export function appendLinkified(parent: Node, text: string): void {
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const start = match.index ?? 0;
    const url = trimUrl(match[0]);
    const href = safeHref(url);
    if (!href || url.length === 0) continue;
    if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
    const a = document.createElement("a");
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = url;
    parent.appendChild(a);
    last = start + url.length;
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}

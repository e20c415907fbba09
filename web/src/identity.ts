// Who the user is: a remembered guest name and guestId, or a JWT. Guest
// details live in localStorage; the token only in sessionStorage, so it is
// forgotten with the tab.

import { uuid } from "./dom";

const NAME_KEY = "globalchat.name";
const GUEST_KEY = "globalchat.guestId";
const TOKEN_KEY = "globalchat.token";

/** Longest accepted name, in characters (code points, as the server counts). */
export const MAX_NAME = 32;

/** What the client sends as Socket.IO auth. */
export type Auth = { username: string; guestId: string } | { token: string };

function read(store: Storage, key: string): string {
  try {
    return store.getItem(key) ?? "";
  } catch {
    return ""; // storage disabled (private mode, policies): nothing remembered.
  }
}

function write(store: Storage, key: string, value: string): void {
  try {
    if (value) store.setItem(key, value);
    else store.removeItem(key);
  } catch {
    // Not remembering is fine.
  }
}

/** The remembered guest name, or "". */
export function savedName(): string {
  return read(localStorage, NAME_KEY);
}

/** The remembered token, or "". */
export function savedToken(): string {
  return read(sessionStorage, TOKEN_KEY);
}

/** Checks a guest name: 1..32 visible characters once trimmed. Returns an error or "". */
export function nameError(raw: string): string {
  const name = raw.trim();
  const length = [...name].length;
  if (length === 0) return "Enter a name.";
  if (length > MAX_NAME) return `Use at most ${MAX_NAME} characters.`;
  // As the server checks it: letters, marks, numbers, punctuation,
  // symbols and plain spaces only.
  if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u.test(name)) return "Use visible characters only.";
  return "";
}

/** The guest auth for name, remembering the name and a stable guestId. */
export function guestAuth(rawName: string): Auth {
  const username = rawName.trim();
  let guestId = read(localStorage, GUEST_KEY);
  if (!guestId) {
    guestId = uuid();
    write(localStorage, GUEST_KEY, guestId);
  }
  write(localStorage, NAME_KEY, username);
  return { username, guestId };
}

/** The token auth, remembering the token for this tab. */
export function tokenAuth(rawToken: string): Auth {
  const token = rawToken.trim();
  write(sessionStorage, TOKEN_KEY, token);
  return { token };
}

/** Forgets the token (when the server refused it). */
export function forgetToken(): void {
  write(sessionStorage, TOKEN_KEY, "");
}

/**
 * The user id the server will know the user by, when the client can tell:
 * the subject of a JWT (read, not verified: it only marks own messages).
 */
export function userIdHint(auth: Auth): string {
  if (!("token" in auth)) return "";
  const payload = auth.token.split(".")[1];
  if (!payload) return "";
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : "";
  } catch {
    return "";
  }
}

const USER_ID_KEY = "globalchat.userId.";

/**
 * The user id the client expects for auth, or "": for a guest the one the
 * server gave last time, or else "guest:<guestId>" (the server's scheme);
 * the first acknowledged message confirms or corrects it.
 */
export function knownUserId(auth: Auth): string {
  if ("token" in auth) return userIdHint(auth);
  return read(localStorage, USER_ID_KEY + auth.guestId) || `guest:${auth.guestId}`;
}

/** Remembers the user id the server gave a guest, to mark their messages next time. */
export function rememberUserId(auth: Auth, id: string): void {
  if (!("token" in auth)) write(localStorage, USER_ID_KEY + auth.guestId, id);
}

// Who the user is: a remembered guest name and guest token, or a JWT.
// Guest details live in localStorage (shared by the tabs); the JWT only in
// sessionStorage, so it is forgotten with the tab. The guest token is
// issued by the server (chat:session) on the first connection and is the
// guest's only credential: it is never shown to anyone.

const NAME_KEY = "globalchat.name";
const GUEST_TOKEN_KEY = "globalchat.guestToken";
const GUEST_USER_KEY = "globalchat.guestUserId";
/** Where older clients kept the guestId, which the server no longer reads. */
const OLD_GUEST_KEY = "globalchat.guestId";
const TOKEN_KEY = "globalchat.token";
/** Set while the user is in the room: a reload goes straight back in. */
const IN_ROOM_KEY = "globalchat.inRoom";

/** Longest accepted name, in characters (code points, as the server counts). */
export const MAX_NAME = 32;

/** What the client sends as Socket.IO auth. */
export type Auth = { username: string; guestToken?: string } | { token: string };

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

/** Characters that show nothing by themselves, as the server counts them. */
const INVISIBLE = /[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]/u;
const INVISIBLE_ENDS = /^[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]+|[\p{White_Space}\p{Cf}\p{Default_Ignorable_Code_Point}\u2800]+$/gu;

/** A name as the server keeps it: NFC, without invisible characters at its ends. */
export function cleanName(raw: string): string {
  return raw.normalize("NFC").replace(INVISIBLE_ENDS, "");
}

/** Checks a guest name as the server does. Returns an error or "". */
export function nameError(raw: string): string {
  const name = cleanName(raw);
  const length = [...name].length;
  if (length === 0) return "Enter a name.";
  if (length > MAX_NAME) return `Use at most ${MAX_NAME} characters.`;
  // Letters, marks, numbers, punctuation, symbols and plain spaces only,
  // and at least one that shows (not a blank look-alike such as U+3164).
  if (!/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]+$/u.test(name)) return "Use visible characters only.";
  if (![...name].some((c) => /[\p{L}\p{N}\p{P}\p{S}]/u.test(c) && !INVISIBLE.test(c))) return "Use at least one visible character.";
  return "";
}

/** The guest auth for name, with the guest token this browser keeps, if any. */
export function guestAuth(rawName: string): Auth {
  const username = cleanName(rawName);
  write(localStorage, NAME_KEY, username);
  write(localStorage, OLD_GUEST_KEY, "");
  const guestToken = read(localStorage, GUEST_TOKEN_KEY);
  return guestToken ? { username, guestToken } : { username };
}

/** Remembers the guest token the server issued (every tab uses it from then on). */
export function rememberGuestToken(token: string): void {
  write(localStorage, GUEST_TOKEN_KEY, token);
}

/** Forgets the guest token the server refused; the next connection gets a new one. */
export function forgetGuestToken(): void {
  write(localStorage, GUEST_TOKEN_KEY, "");
  write(localStorage, GUEST_USER_KEY, "");
}

/** The token auth, remembering the token for this tab. */
export function tokenAuth(rawToken: string): Auth {
  const token = rawToken.trim();
  write(sessionStorage, TOKEN_KEY, token);
  return { token };
}

/**
 * A fresh JWT from the host page, asked before every (re)connection: the
 * page that serves this client may define
 * `window.globalchatToken = () => token` (or a promise of one), and renew
 * it before it expires; the server ends a connection when its token
 * expires, and the client reconnects with what this returns, without
 * reloading. Without the hook, the token the user pasted is used again.
 */
export async function freshToken(current: string): Promise<string> {
  const hook = (window as { globalchatToken?: () => string | Promise<string> }).globalchatToken;
  if (typeof hook !== "function") return current;
  try {
    const token = (await hook())?.trim();
    if (!token) return current;
    write(sessionStorage, TOKEN_KEY, token);
    return token;
  } catch {
    return current;
  }
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

/**
 * The user id the client expects for auth, or "": for a guest the one the
 * server gave last time; chat:session confirms or corrects it.
 */
export function knownUserId(auth: Auth): string {
  if ("token" in auth) return userIdHint(auth);
  return auth.guestToken ? read(localStorage, GUEST_USER_KEY) : "";
}

/** Remembers the user id the server gave a guest, to mark their messages next time. */
export function rememberUserId(auth: Auth, id: string): void {
  if (!("token" in auth)) write(localStorage, GUEST_USER_KEY, id);
}

/** Remembers whether the user is in the room ("Leave" forgets it). */
export function rememberInRoom(on: boolean): void {
  write(localStorage, IN_ROOM_KEY, on ? "1" : "");
}

/**
 * The auth to go back into the room with, when the user was in it and
 * nothing needs asking: a remembered guest (name and token) or, in this
 * tab, a token. null means the join screen.
 */
export function resumeAuth(): Auth | null {
  if (read(localStorage, IN_ROOM_KEY) !== "1") return null;
  const token = savedToken();
  if (token) return { token };
  const username = savedName();
  const guestToken = read(localStorage, GUEST_TOKEN_KEY);
  return username && guestToken && !nameError(username) ? { username, guestToken } : null;
}

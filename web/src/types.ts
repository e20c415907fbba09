// Wire types of the globalchat protocol, as the Go server sends them.

/** A chat message; seq is its place in the room's single, increasing order. */
export interface ChatMessage {
  id: string;
  seq: number;
  userId: string;
  username: string;
  content: string;
  createdAt: string;
  clientMsgId?: string;
}

/** A user as presence and the online list describe it. */
export interface UserRef {
  userId: string;
  username: string;
}

/** Payload of user:joined and user:left. */
export interface PresenceChange extends UserRef {
  onlineCount: number;
}

/** Payload of presence:update, the coalesced form sent under load. */
export interface PresenceUpdate {
  onlineCount: number;
  joined?: UserRef[];
  left?: UserRef[];
}

/** Error codes of a refused chat:message. */
export type AckErrorCode = "rate_limited" | "invalid_message" | "unavailable" | string;

/** The acknowledgement of chat:message. */
export type SendAck =
  | { ok: true; message: ChatMessage; remaining?: number }
  | { ok: false; error: { code: AckErrorCode; message: string; retryAfterMs?: number } };

/** GET /api/messages answer. */
export interface MessagesPage {
  messages: ChatMessage[];
  hasMore: boolean;
}

/** GET /api/online-users answer. */
export interface OnlineUsers {
  count: number;
  users: UserRef[];
}

/** Payload of chat:session: who the server knows the client as; a new guest's token. */
export interface SessionInfo extends UserRef {
  guestToken?: string;
}

/** Events the server emits. */
export interface ServerToClient {
  "chat:history": (p: { messages: ChatMessage[] }) => void;
  "chat:session": (p: SessionInfo) => void;
  "chat:message": (m: ChatMessage) => void;
  "user:joined": (p: PresenceChange) => void;
  "user:left": (p: PresenceChange) => void;
  "presence:update": (p: PresenceUpdate) => void;
  "chat:typing": (p: { users: UserRef[]; count: number }) => void;
}

/** Events the client emits. */
export interface ClientToServer {
  "chat:message": (
    p: { content: string; clientMsgId: string },
    ack: (res: SendAck) => void,
  ) => void;
  "chat:typing": () => void;
}

/** Validates the shape of a message from the network before it is used. */
export function isChatMessage(v: unknown): v is ChatMessage {
  if (typeof v !== "object" || v === null) return false;
  const m = v as Record<string, unknown>;
  return (
    typeof m.seq === "number" &&
    Number.isFinite(m.seq) &&
    typeof m.id === "string" &&
    typeof m.userId === "string" &&
    typeof m.username === "string" &&
    typeof m.content === "string" &&
    typeof m.createdAt === "string"
  );
}

/** Keeps the well-formed messages of a list from the network. */
export function chatMessages(v: unknown): ChatMessage[] {
  return Array.isArray(v) ? v.filter(isChatMessage) : [];
}

/** Keeps the well-formed users of a list from the network. */
export function userRefs(v: unknown): UserRef[] {
  if (!Array.isArray(v)) return [];
  return v.filter(
    (u): u is UserRef =>
      typeof u === "object" && u !== null && typeof u.userId === "string" && typeof u.username === "string",
  );
}

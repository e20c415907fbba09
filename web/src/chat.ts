// One stay in the room: the Socket.IO connection and what it drives, from
// joining until leaving or being refused.

import { io, type Socket } from "socket.io-client";
import { Composer } from "./composer";
import { byId, uuid } from "./dom";
import { History } from "./history";
import { setApiToken } from "./api";
import { forgetGuestToken, freshToken, knownUserId, rememberGuestToken, rememberUserId, type Auth } from "./identity";
import { OnlinePanel } from "./online";
import { StatusView } from "./status";
import { Timeline } from "./timeline";
import {
  chatMessages,
  isChatMessage,
  userRefs,
  type ClientToServer,
  type PresenceChange,
  type PresenceUpdate,
  type SendAck,
  type ServerToClient,
  type SessionInfo,
} from "./types";

/** The server's answer to a guest token it did not sign (another deployment, a changed key). */
const BAD_GUEST_TOKEN = "invalid guest token";

/** How long a sent message waits for its acknowledgement. */
const ACK_TIMEOUT_MS = 10_000;

/** What the join screen needs to hear from a session. */
export interface SessionEvents {
  /** The first connection succeeded: show the room. */
  connected(): void;
  /** The server refused the connection (its auth middleware said why). */
  refused(message: string): void;
  /** The server could not be reached before the first connection; still trying. */
  unreachable(message: string): void;
}

const CODE_TEXT: Record<string, string> = {
  rate_limited: "you are sending too fast",
  invalid_message: "the message was not accepted",
  unavailable: "the chat is temporarily unavailable",
};

const DISCONNECT_TEXT: Record<string, string> = {
  "io server disconnect": "disconnected by the server",
  "ping timeout": "connection lost",
  "transport close": "connection lost",
  "transport error": "connection error",
  "parse error": "protocol error",
};

/** ChatSession connects with auth and runs the room's view until closed. */
export class ChatSession {
  private readonly socket: Socket<ServerToClient, ClientToServer>;
  private readonly status = new StatusView();
  private readonly timeline: Timeline;
  private readonly history: History;
  private readonly online = new OnlinePanel();
  private readonly composer: Composer;
  private readonly scroller = byId("scroller");
  private readonly jump = byId<HTMLButtonElement>("jump-latest");
  private everConnected = false;
  private myUserId = "";
  private closed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private auth: Auth,
    private readonly events: SessionEvents,
  ) {
    const list = byId<HTMLOListElement>("messages");
    list.replaceChildren();
    this.timeline = new Timeline(list, this.scroller, { retry: (id) => this.retry(id) });
    this.history = new History(this.timeline, this.scroller);
    this.composer = new Composer(
      (content) => this.send(content),
      (limited) => this.timeline.setRetryDisabled(limited),
    );
    this.setMyUserId(knownUserId(auth));
    this.status.set("connecting");
    this.socket = io({
      // Asked at every (re)connection: it carries the guest token the
      // server issued on the first one, or a JWT renewed by the host page.
      auth: (cb) => void this.currentAuth().then(cb),
      forceNew: true,
      // WebSocket first: no sticky sessions needed behind a load balancer,
      // and no long-poll left in flight when a connection is refused.
      // Long-polling remains the fallback where WebSocket is blocked.
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      timeout: 10_000,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10_000,
    });
    this.listen();
    this.scroller.addEventListener("scroll", this.onScroll, { passive: true });
    this.jump.addEventListener("click", this.onJump);
    window.addEventListener("online", this.onNetwork);
    window.addEventListener("offline", this.onNetwork);
  }

  /** The auth to connect with: in JWT mode, the freshest token the page has. */
  private async currentAuth(): Promise<Auth> {
    if ("token" in this.auth) {
      this.auth = { token: await freshToken(this.auth.token) };
      setApiToken(this.auth.token);
    }
    return this.auth;
  }

  /** Puts the keyboard focus in the message box. */
  focusComposer(): void {
    this.composer.focus();
  }

  /** Leaves the room: closes the connection and stops every timer. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.socket.removeAllListeners();
    this.socket.io.removeAllListeners();
    this.socket.disconnect();
    this.history.close();
    this.timeline.close();
    this.online.close();
    this.composer.close();
    this.scroller.removeEventListener("scroll", this.onScroll);
    this.jump.removeEventListener("click", this.onJump);
    window.removeEventListener("online", this.onNetwork);
    window.removeEventListener("offline", this.onNetwork);
  }

  private listen(): void {
    const s = this.socket;
    s.on("connect", this.onConnect);
    s.on("disconnect", this.onDisconnect);
    s.on("connect_error", this.onConnectError);
    s.io.on("reconnect_attempt", (n) => this.setDown(`attempt ${n}`));
    s.io.on("reconnect_failed", () => this.status.set("offline", "gave up reconnecting"));
    s.on("chat:history", (p) => this.history.onHistory(chatMessages(p?.messages)));
    s.on("chat:message", (m) => {
      if (!isChatMessage(m)) return;
      const wasAtBottom = this.timeline.atBottom();
      this.history.onMessage(m);
      if (!wasAtBottom) this.jump.hidden = false;
    });
    s.on("chat:session", (p) => this.onSession(p));
    s.on("user:joined", (p) => this.onPresenceChange(p, "joined"));
    s.on("user:left", (p) => this.onPresenceChange(p, "left"));
    s.on("presence:update", (p) => this.onPresenceUpdate(p));
  }

  private readonly onConnect = () => {
    clearTimeout(this.reconnectTimer);
    this.status.set("connected");
    if (!this.everConnected) {
      this.everConnected = true;
      this.events.connected();
    }
    // A recovered connection replays what was missed by itself; otherwise
    // the server sends chat:history, which History merges by seq.
    void this.online.refresh();
  };

  private readonly onDisconnect = (reason: Socket.DisconnectReason) => {
    if (this.closed) return;
    this.setDown(DISCONNECT_TEXT[reason] ?? reason);
    // After a server-side disconnect the client does not retry by itself;
    // a restarting server is the usual cause, so try again after a moment.
    if (reason === "io server disconnect") {
      this.reconnectTimer = setTimeout(() => this.socket.connect(), 1000 + Math.random() * 2000);
    }
  };

  private readonly onConnectError = (err: Error) => {
    if (this.closed) return;
    if (err.message === BAD_GUEST_TOKEN && !("token" in this.auth) && this.auth.guestToken) {
      // Not a token of this server: become a new guest rather than fail.
      forgetGuestToken();
      this.auth = { username: this.auth.username };
      this.socket.connect();
      return;
    }
    if (!this.socket.active) {
      // Refused by the server's middleware: retrying would be refused again.
      this.events.refused(err.message || "the server refused the connection");
      return;
    }
    if (!this.everConnected) this.events.unreachable(err.message);
    this.setDown(err.message);
  };

  private readonly onNetwork = () => {
    if (!this.socket.connected) this.setDown("");
  };

  private setDown(detail: string): void {
    this.status.set(navigator.onLine ? "reconnecting" : "offline", detail);
  }

  private readonly onScroll = () => {
    if (this.timeline.atBottom()) this.jump.hidden = true;
  };

  private readonly onJump = () => {
    this.timeline.scrollToBottom();
    this.jump.hidden = true;
    this.composer.focus();
  };

  /** Who the server knows this client as; a new guest also gets its token, to keep. */
  private onSession(p: SessionInfo): void {
    if (typeof p?.userId !== "string") return;
    if (typeof p.guestToken === "string" && p.guestToken && !("token" in this.auth)) {
      this.auth = { username: this.auth.username, guestToken: p.guestToken };
      rememberGuestToken(p.guestToken);
    }
    this.setMyUserId(p.userId);
  }

  private onPresenceChange(p: PresenceChange, verb: "joined" | "left"): void {
    if (typeof p?.username !== "string") return;
    this.online.setCount(p.onlineCount);
    // The user's own comings and goings (reconnects, other tabs) are noise.
    if (p.userId !== this.myUserId) this.timeline.addNotice(`${p.username} ${verb}`);
    this.online.scheduleRefresh();
  }

  private onPresenceUpdate(p: PresenceUpdate): void {
    if (typeof p !== "object" || p === null) return;
    this.online.setCount(p.onlineCount);
    const others = (v: unknown) => userRefs(v).filter((u) => u.userId !== this.myUserId);
    const parts = [summarize(others(p.joined), "joined"), summarize(others(p.left), "left")].filter(Boolean);
    if (parts.length > 0) this.timeline.addNotice(parts.join(" · "));
    this.online.scheduleRefresh();
  }

  private send(content: string): void {
    const clientMsgId = uuid();
    this.timeline.addPending(clientMsgId, content);
    this.emit(clientMsgId, content);
  }

  /** Sends a failed message again with the same clientMsgId, so the server keeps one copy. */
  private retry(clientMsgId: string): void {
    const content = this.timeline.pendingContent(clientMsgId);
    if (content === undefined || this.composer.limited) return;
    this.timeline.markSending(clientMsgId);
    this.emit(clientMsgId, content);
  }

  private emit(clientMsgId: string, content: string): void {
    this.socket
      .timeout(ACK_TIMEOUT_MS)
      .emit("chat:message", { content, clientMsgId }, (err: Error | null, res: SendAck) => {
        if (this.closed) return;
        if (err) {
          this.timeline.markFailed(clientMsgId, "no answer from the server");
          return;
        }
        this.onAck(clientMsgId, res);
      });
  }

  private onAck(clientMsgId: string, res: SendAck): void {
    if (res && res.ok === true && isChatMessage(res.message)) {
      this.setMyUserId(res.message.userId);
      this.timeline.resolvePending(clientMsgId, res.message);
      return;
    }
    const error = res && res.ok === false ? res.error : undefined;
    const code = typeof error?.code === "string" ? error.code : "";
    if (code === "rate_limited") this.composer.rateLimited(Number(error?.retryAfterMs));
    const text = typeof error?.message === "string" && error.message ? error.message : CODE_TEXT[code];
    this.timeline.markFailed(clientMsgId, text ?? "unexpected answer from the server");
  }

  private setMyUserId(id: string): void {
    if (!id) return;
    this.myUserId = id;
    rememberUserId(this.auth, id);
    this.timeline.setMyUserId(id);
    this.online.setMyUserId(id);
  }
}

/** "alice joined", "alice and bob left", "alice, bob and 3 others joined". */
export function summarize(users: { username: string }[], verb: string): string {
  const names = users.map((u) => u.username);
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} ${verb}`;
  if (names.length === 2) return `${names[0]} and ${names[1]} ${verb}`;
  const rest = names.length - 2;
  return `${names[0]}, ${names[1]} and ${rest} other${rest === 1 ? "" : "s"} ${verb}`;
}

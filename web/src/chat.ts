// One stay in the room: the Socket.IO connection and what it drives, from
// joining until leaving or being refused.

import { io, type Socket } from "socket.io-client";
import { setApiToken } from "./api";
import { Composer } from "./composer";
import { byId, el } from "./dom";
import { mentions } from "./format";
import { History } from "./history";
import { forgetGuestToken, freshToken, knownUserId, rememberGuestToken, rememberUserId, type Auth } from "./identity";
import { OnlinePanel } from "./online";
import { Outbox } from "./outbox";
import { PresenceNotices } from "./presence";
import { StatusView } from "./status";
import { Timeline } from "./timeline";
import { TypingView } from "./typing";
import { Unread } from "./unread";
import {
  chatMessages,
  isChatMessage,
  userRefs,
  type ChatMessage,
  type ClientToServer,
  type PresenceChange,
  type PresenceUpdate,
  type ServerToClient,
  type SessionInfo,
} from "./types";

/** The server's answer to a guest token it did not sign (another deployment, a changed key). */
const BAD_GUEST_TOKEN = "invalid guest token";

/** How long a sent message waits for its acknowledgement. */
const ACK_TIMEOUT_MS = 10_000;
/** New messages a screen reader is told about, at most, in the live region. */
const ANNOUNCED = 5;

/** What the join screen needs to hear from a session. */
export interface SessionEvents {
  /** The first connection succeeded: show the room. */
  connected(): void;
  /** The server refused the connection (its auth middleware said why). */
  refused(message: string): void;
  /** The server could not be reached before the first connection; still trying. */
  unreachable(message: string): void;
}

/** ChatSession connects with auth and runs the room's view until closed. */
export class ChatSession {
  private readonly socket: Socket<ServerToClient, ClientToServer>;
  private readonly status = new StatusView();
  private readonly timeline: Timeline;
  private readonly history: History;
  private readonly online = new OnlinePanel();
  private readonly composer: Composer;
  private readonly outbox: Outbox;
  private readonly unread: Unread;
  private readonly presence: PresenceNotices;
  private readonly typing = new TypingView(() => this.myUserId);
  private readonly scroller = byId("scroller");
  private readonly announcer = byId("announcer");
  private everConnected = false;
  private myUserId = "";
  private myName = "";
  private closed = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private auth: Auth,
    private readonly events: SessionEvents,
  ) {
    const list = byId<HTMLOListElement>("messages");
    list.replaceChildren();
    this.announcer.replaceChildren();
    this.timeline = new Timeline(list, this.scroller, { retry: (id) => this.outbox.retry(id) });
    this.history = new History(this.timeline, this.scroller);
    this.unread = new Unread(this.timeline, this.scroller);
    this.presence = new PresenceNotices(this.timeline);
    this.outbox = new Outbox(this.timeline, {
      connected: () => this.socket.connected,
      emit: (clientMsgId, content, cb) =>
        void this.socket.timeout(ACK_TIMEOUT_MS).emit("chat:message", { content, clientMsgId }, (err, res) => {
          if (!this.closed) cb(err, res);
        }),
      stored: (clientMsgId, msg, remaining) => {
        if (!isChatMessage(msg)) return;
        this.setMyUserId(msg.userId);
        this.timeline.resolvePending(clientMsgId, msg);
        if (remaining !== undefined) this.composer.allowance(remaining);
      },
    });
    this.composer = new Composer(
      (content) => {
        this.unread.caughtUp();
        this.outbox.add(content);
      },
      () => this.online.names(),
      () => {
        // Volatile: a typing hint is worth nothing once late.
        if (this.socket.connected) this.socket.volatile.emit("chat:typing");
      },
    );
    this.setMyUserId(knownUserId(auth));
    this.status.set(navigator.onLine ? "connecting" : "offline");
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
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
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
    this.outbox.close();
    this.unread.close();
    this.presence.close();
    this.typing.close();
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
  }

  private listen(): void {
    const s = this.socket;
    s.on("connect", this.onConnect);
    s.on("disconnect", this.onDisconnect);
    s.on("connect_error", this.onConnectError);
    s.io.on("reconnect_attempt", () => this.setDown());
    s.io.on("reconnect_failed", () => this.status.set("offline"));
    s.on("chat:history", (p) => this.history.onHistory(chatMessages(p?.messages)));
    s.on("chat:message", (m) => this.onMessage(m));
    s.on("chat:session", (p) => this.onSession(p));
    s.on("user:joined", (p) => this.onPresenceChange(p, true));
    s.on("user:left", (p) => this.onPresenceChange(p, false));
    s.on("presence:update", (p) => this.onPresenceUpdate(p));
    s.on("chat:typing", (p) => this.typing.onList(p));
  }

  private onMessage(m: unknown): void {
    if (!isChatMessage(m)) return;
    this.typing.messageFrom(m.userId);
    const wasReading = this.timeline.atBottom();
    const fresh = !this.timeline.has(m.seq);
    this.history.onMessage(m);
    if (!fresh || m.userId === this.myUserId) return;
    const mentioned = mentions(m.content, this.name());
    this.unread.arrived(m.seq, mentioned, wasReading);
    this.announce(m);
  }

  /**
   * Tells screen readers about a new message, and only about new ones:
   * history pages never go through this live region.
   */
  private announce(m: ChatMessage): void {
    const text = m.content.length > 200 ? `${m.content.slice(0, 200)}…` : m.content;
    this.announcer.append(el("p", {}, `${m.username}: ${text}`));
    while (this.announcer.childElementCount > ANNOUNCED) this.announcer.firstElementChild!.remove();
  }

  /** The user's name: the one the server gave (chat:session), else the one asked for. */
  private name(): string {
    return this.myName || ("token" in this.auth ? "" : this.auth.username);
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
    this.outbox.pump();
  };

  private readonly onDisconnect = (reason: Socket.DisconnectReason) => {
    if (this.closed) return;
    this.outbox.disconnected();
    this.setDown();
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
    console.info("globalchat: cannot connect:", err.message);
    if (!this.everConnected) this.events.unreachable(err.message);
    this.setDown();
  };

  /**
   * The browser lost the network: a WebSocket can look open for a long
   * time after (until the heartbeat times out), so close it now; messages
   * written meanwhile wait in the outbox.
   */
  private readonly onOffline = () => {
    this.status.set("offline");
    this.socket.io.engine?.close();
  };

  /** The network is back: reconnect at once rather than after the backoff. */
  private readonly onOnline = () => {
    if (this.socket.connected) return;
    this.status.set("reconnecting");
    clearTimeout(this.reconnectTimer);
    this.socket.disconnect().connect();
  };

  private setDown(): void {
    this.status.set(navigator.onLine ? "reconnecting" : "offline");
  }

  /** Who the server knows this client as; a new guest also gets its token, to keep. */
  private onSession(p: SessionInfo): void {
    if (typeof p?.userId !== "string") return;
    if (typeof p.guestToken === "string" && p.guestToken && !("token" in this.auth)) {
      this.auth = { username: this.auth.username, guestToken: p.guestToken };
      rememberGuestToken(p.guestToken);
    }
    this.setMyUserId(p.userId, typeof p.username === "string" ? p.username : "");
  }

  private onPresenceChange(p: PresenceChange, joined: boolean): void {
    if (typeof p?.username !== "string") return;
    this.online.setCount(p.onlineCount);
    // The user's own comings and goings (reconnects, other tabs) are noise.
    if (p.userId !== this.myUserId) (joined ? this.presence.join(p) : this.presence.leave(p));
    this.online.scheduleRefresh();
  }

  private onPresenceUpdate(p: PresenceUpdate): void {
    if (typeof p !== "object" || p === null) return;
    this.online.setCount(p.onlineCount);
    const others = (v: unknown) => userRefs(v).filter((u) => u.userId !== this.myUserId);
    for (const u of others(p.left)) this.presence.leave(u);
    for (const u of others(p.joined)) this.presence.join(u);
    this.online.scheduleRefresh();
  }

  private setMyUserId(id: string, name = ""): void {
    if (!id) return;
    this.myUserId = id;
    if (name) this.myName = name;
    rememberUserId(this.auth, id);
    this.timeline.setMe(id, name || this.name());
    this.online.setMyUserId(id);
  }
}

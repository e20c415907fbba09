// The connection indicator in the top bar, and a banner in plain words
// while the room is not connected. Transport details (xhr poll error,
// attempt numbers) are for the console, not the user.

import { byId } from "./dom";

/** The states the user is told about. */
export type ConnState = "connecting" | "connected" | "reconnecting" | "offline";

const LABELS: Record<ConnState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

const BANNERS: Record<ConnState, string> = {
  connecting: "",
  connected: "",
  reconnecting: "The connection to the chat was lost. Reconnecting… What you write is sent once it is back.",
  offline: "You are offline. What you write is kept and sent when you are back online.",
};

/** StatusView shows the connection state. */
export class StatusView {
  private readonly root = byId("conn-status");
  private readonly text = byId("conn-text");
  private readonly banner = byId("conn-banner");
  private readonly screen = byId("chat-screen");
  private state: ConnState = "connecting";

  /** The state shown now. */
  get current(): ConnState {
    return this.state;
  }

  /** Shows state. */
  set(state: ConnState): void {
    this.state = state;
    this.root.dataset.state = state;
    this.screen.dataset.conn = state;
    this.text.textContent = LABELS[state];
    this.banner.textContent = BANNERS[state];
    this.banner.hidden = BANNERS[state] === "";
  }
}

// The connection indicator, always visible in the top bar.

import { byId } from "./dom";

/** The states the user is told about. */
export type ConnState = "connecting" | "connected" | "reconnecting" | "offline";

const LABELS: Record<ConnState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** StatusView shows the connection state and, when there is one, why. */
export class StatusView {
  private readonly root = byId("conn-status");
  private readonly text = byId("conn-text");
  private state: ConnState = "connecting";

  /** The state shown now. */
  get current(): ConnState {
    return this.state;
  }

  /** Shows state, with an optional detail such as the last error. */
  set(state: ConnState, detail = ""): void {
    this.state = state;
    this.root.dataset.state = state;
    const label = LABELS[state];
    this.text.textContent = detail ? `${label} (${detail})` : label;
    this.root.title = detail;
  }
}

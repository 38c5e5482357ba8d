// The WebSocket (README "WebSocket"): one per tab, so each tab is a device. Reconnects with backoff,
// keeps the presence heartbeat, and notices a socket that died silently (no pong).
import type { Envelope } from "./types";

export type ConnectionState = "connecting" | "online" | "offline";

const PING_EVERY_MS = 50_000; // presence lasts 90 s after a heartbeat
const PONG_WITHIN_MS = 10_000;
const BACKOFF_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000];

export class Connection {
  state: ConnectionState = "connecting";
  private socket: WebSocket | null = null;
  private attempt = 0;
  private retryTimer = 0;
  private pingTimer = 0;
  private pongTimer = 0;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly onOpen: () => void,
    private readonly onFrame: (frame: Envelope) => void,
    private readonly onState: (state: ConnectionState) => void,
  ) {
    addEventListener("online", this.reconnectNow);
    addEventListener("offline", this.dropNow);
    // Leaving the page closes the socket at once (a page kept in the back-forward cache would keep it open,
    // and the user online); coming back to it reconnects.
    addEventListener("pagehide", this.dropNow);
    addEventListener("pageshow", this.reconnectNow);
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    removeEventListener("online", this.reconnectNow);
    removeEventListener("offline", this.dropNow);
    removeEventListener("pagehide", this.dropNow);
    removeEventListener("pageshow", this.reconnectNow);
    clearTimeout(this.retryTimer);
    this.socket?.close(1000);
  }

  /** Sends a frame if the socket is open; false if it is not (the caller keeps what it wanted to send). */
  send(frame: Record<string, unknown>): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  private open(): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.setState(this.attempt === 0 ? "connecting" : "offline");
    const socket = new WebSocket(`${this.url}?token=${encodeURIComponent(this.token)}`);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      this.setState("online");
      this.schedulePing();
      this.onOpen();
    };
    socket.onmessage = (event) => {
      let frame: Envelope;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "pong") {
        clearTimeout(this.pongTimer);
        return;
      }
      this.onFrame(frame);
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.pingTimer);
      clearTimeout(this.pongTimer);
      if (this.stopped) return;
      this.setState("offline");
      if (!navigator.onLine) return; // the browser knows it is offline: its "online" event reconnects
      const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt += 1;
      this.retryTimer = window.setTimeout(() => this.open(), base / 2 + Math.random() * base);
    };
  }

  private schedulePing(): void {
    clearTimeout(this.pingTimer);
    this.pingTimer = window.setTimeout(() => {
      if (!this.send({ action: "ping" })) return;
      this.pongTimer = window.setTimeout(() => this.socket?.close(4000), PONG_WITHIN_MS);
      this.schedulePing();
    }, PING_EVERY_MS);
  }

  /** The network is back (or the page is shown again): no more waiting out the backoff. A socket that
   * looks open may not have survived the change: a ping it doesn't answer closes it (and a sync follows). */
  private reconnectNow = (): void => {
    if (this.stopped) return;
    this.attempt = 1; // a connection attempt failing from now on retries soon, not after the longest wait
    if (this.socket === null) this.open();
    else if (this.send({ action: "ping" })) {
      clearTimeout(this.pongTimer);
      this.pongTimer = window.setTimeout(() => this.socket?.close(4000), PONG_WITHIN_MS);
    }
  };

  private dropNow = (): void => {
    this.socket?.close(4001);
  };
}

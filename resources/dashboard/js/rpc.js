// The dashboard's one connection to its instance: JSON-RPC 2.0 over the WebSocket at /ws.
//
// Requests are matched to answers by id; server events arrive as `event` notifications after `subscribe`.
// When the socket drops, it reconnects by itself with capped exponential backoff, subscribes again and
// tells listeners ("reconnected") so the visible view can load fresh data. The browser's session rides in the
// handshake (see session.js); once the server has ended it, the client stops in the state "signed-out".

import { CLOSE_SIGNED_OUT, sessionValid, socketProtocols } from "./session.js";

const BACKOFF_START_MS = 250;
const BACKOFF_CAP_MS = 5000;
const REQUEST_TIMEOUT_MS = 30000;

/** An error answer from the instance: its sentence, JSON-RPC code and data (e.g. {field}). */
export class RpcError extends Error {
  constructor(message, code = 0, data = null) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }
}

export class RpcClient {
  /** `url`: the ws:// address; `topics`: what to subscribe to on every (re)connect. */
  constructor(url, topics = ["*"]) {
    this.url = url;
    this.topics = topics;
    this.state = "connecting"; // connecting | open | reconnecting | signed-out
    this.attempt = 0;
    this.nextRetryAt = null;
    this.everOpened = false;
    this._socket = null;
    this._ids = 0;
    this._pending = new Map();
    this._queued = [];
    this._eventHandlers = new Map();
    this._stateHandlers = new Set();
    this._reconnectHandlers = new Set();
    this._retryTimer = null;
  }

  /** Open the connection (once); later drops are handled by the client itself. */
  start() {
    this._open();
    return this;
  }

  /** Call `method` with `params`; resolves with its result or rejects with an RpcError. */
  call(method, params = {}) {
    if (this.state === "signed-out") {
      return Promise.reject(new RpcError("This browser is signed out of the instance; sign in again.", -3));
    }
    if (this.state !== "open" && this.everOpened) {
      return Promise.reject(new RpcError("Not connected to the instance; reconnecting…", -1));
    }
    return new Promise((resolve, reject) => {
      const id = ++this._ids;
      const timer = setTimeout(() => {
        this._pending.delete(id);
        reject(new RpcError(`The instance did not answer ${method} in time.`, -2));
      }, REQUEST_TIMEOUT_MS);
      this._pending.set(id, { resolve, reject, timer, method });
      const text = JSON.stringify({ jsonrpc: "2.0", id, method, params });
      if (this.state === "open") this._socket.send(text);
      else this._queued.push(text); // before the first connection: sent as soon as it opens
    });
  }

  /** Listen to server events of `topic` ("*" for every topic); returns a function that stops listening. */
  on(topic, handler) {
    if (!this._eventHandlers.has(topic)) this._eventHandlers.set(topic, new Set());
    this._eventHandlers.get(topic).add(handler);
    return () => this._eventHandlers.get(topic).delete(handler);
  }

  /** Listen to connection state changes: handler(state, client). */
  onState(handler) {
    this._stateHandlers.add(handler);
    handler(this.state, this);
    return () => this._stateHandlers.delete(handler);
  }

  /** Listen to successful reconnections (after a drop, not the first connection). */
  onReconnect(handler) {
    this._reconnectHandlers.add(handler);
    return () => this._reconnectHandlers.delete(handler);
  }

  /** Skip the rest of the backoff and try to connect now. */
  retryNow() {
    if (this.state !== "reconnecting") return;
    clearTimeout(this._retryTimer);
    this._open();
  }

  _setState(state) {
    this.state = state;
    for (const handler of this._stateHandlers) handler(state, this);
  }

  _open() {
    this.nextRetryAt = null;
    let socket;
    try {
      socket = new WebSocket(this.url, socketProtocols());
    } catch (error) {
      this._scheduleRetry();
      return;
    }
    this._socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      performance.mark("murmuration:connected");
      // After failed attempts (even before a first success) the views' first loads may have failed too.
      const reconnected = this.everOpened || this.attempt > 0;
      this.everOpened = true;
      this.attempt = 0;
      this._setState("open");
      for (const text of this._queued.splice(0)) socket.send(text);
      this.call("subscribe", { topics: this.topics }).catch(() => {});
      if (reconnected) for (const handler of this._reconnectHandlers) handler();
    });
    socket.addEventListener("message", (event) => this._receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this._socket !== socket) return;
      this._socket = null;
      for (const [id, pending] of this._pending) {
        clearTimeout(pending.timer);
        pending.reject(new RpcError("The connection to the instance dropped; reconnecting…", -1));
        this._pending.delete(id);
      }
      if (event.code === CLOSE_SIGNED_OUT) {
        this._signedOut();
        return;
      }
      this._scheduleRetry();
      if (!opened) this._checkSession();
    });
  }

  _signedOut() {
    clearTimeout(this._retryTimer);
    this.nextRetryAt = null;
    this._queued.length = 0; // their callers were told when the socket closed
    this._setState("signed-out");
  }

  _scheduleRetry() {
    const delay = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** this.attempt);
    this.attempt += 1;
    // Jitter, so many tabs do not all knock at the same moment after a restart.
    const wait = Math.round(delay * (0.75 + Math.random() * 0.25));
    this.nextRetryAt = Date.now() + wait;
    this._retryTimer = setTimeout(() => this._open(), wait);
    this._setState("reconnecting");
  }

  async _checkSession() {
    // A refused handshake looks like a dropped one to a page; the server tells which it was.
    if ((await sessionValid()) === false && this.state === "reconnecting") this._signedOut();
  }

  _receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    for (const item of Array.isArray(message) ? message : [message]) {
      if (item.method === "event" && item.params) {
        this._dispatch(item.params);
        continue;
      }
      const pending = this._pending.get(item.id);
      if (!pending) continue;
      this._pending.delete(item.id);
      clearTimeout(pending.timer);
      if (item.error) pending.reject(new RpcError(item.error.message, item.error.code, item.error.data ?? null));
      else pending.resolve(item.result);
    }
  }

  _dispatch(event) {
    for (const key of [event.topic, "*"]) {
      for (const handler of this._eventHandlers.get(key) || []) {
        try {
          handler(event);
        } catch (error) {
          console.warn("event handler failed", error);
        }
      }
    }
  }
}

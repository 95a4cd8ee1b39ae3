// DevTracker Realtime — JavaScript SDK (ES module).
//
// The wire contract is SPEC.md §3/§4; this module wraps socket.io-client with what every
// application would otherwise write itself: a promise-based connection that is ready once the
// replay is over, acks turned into promises, typing debounce, and reconnection that resumes
// where it left off (cursors in the handshake, rooms re-joined, presence restored, no event
// delivered twice), and streams delivered in `seq` order with any hole read from the REST API
// (SPEC §9).
//
// Browsers: give the bare specifier an import map, e.g.
//   <script type="importmap">
//     {"imports": {"socket.io-client": "/node_modules/socket.io-client/dist/socket.io.esm.min.js"}}
//   </script>
// Node and bundlers resolve it from node_modules.
import { io } from "socket.io-client";

const API_PREFIX = "/api/v1/realtime";
const PRESENCE_STATUSES = ["online", "away"];
const CURSOR_EVENTS = { notification: "notification", "activity:feed": "activity" };
const PAGE = 100; // the REST API's largest page
const CONNECTED = Symbol("connected"); // a connection opened, queued in order with its events

const DEFAULTS = {
  reconnection: true,
  reconnectionAttempts: Infinity,
  reconnectionDelay: 1000,
  reconnectionDelayMax: 10000,
  randomizationFactor: 0.5,
  ackTimeout: 10000,
  connectTimeout: 20000,
  typingIdleTimeout: 3000,
  typingRefreshInterval: 2000,
  resumeActivity: true,
};

/**
 * An Error with the server's error `code` (e.g. `TOKEN_EXPIRED`, `NOT_IN_TASK`) and `details`.
 * @param {string} message
 * @param {string} code
 * @param {object} [extra] `details`, `event`
 * @returns {Error & {code: string, details?: object, event?: string|null}}
 */
function realtimeError(message, code, extra = {}) {
  const error = new Error(message || code);
  error.name = "RealtimeError";
  error.code = code;
  if (extra.details !== undefined) error.details = extra.details;
  if (extra.event !== undefined) error.event = extra.event;
  return error;
}

// Errors the server answered (an error envelope), as opposed to a lost or refused connection.
const ANSWERED = new WeakSet();

function errorFromEnvelope(envelope, event) {
  const body = (envelope && envelope.error) || {};
  const error = realtimeError(body.message || `${event} failed`, body.code || "UNKNOWN_ERROR",
    { details: body.details, event });
  ANSWERED.add(error);
  return error;
}

/** The `error` event shape (SPEC §3) of an Error made by `realtimeError`. */
function errorEvent(error, event = error.event ?? null) {
  const body = { code: error.code || "UNKNOWN_ERROR", message: error.message, event };
  if (error.details !== undefined) body.details = error.details;
  return body;
}

function isId(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function seqOf(item) {
  return item && Number.isInteger(item.seq) ? item.seq : null;
}

function checkTaskId(taskId) {
  if (typeof taskId !== "string" || taskId === "") {
    throw new TypeError("taskId must be a non-empty string");
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @typedef {object} RealtimeClientOptions
 * @property {string} [url] Server origin, e.g. `"https://rt.example.com"` (default: the page's origin).
 * @property {string} token JWT (HS256) of the user, as issued by the main DevTracker app.
 * @property {string[]} [transports] Socket.IO transports, e.g. `["websocket"]` (default: polling upgraded to websocket).
 * @property {string} [path] Socket.IO path (default `/socket.io`).
 * @property {boolean} [reconnection=true] Reconnect automatically after a lost connection.
 * @property {number} [reconnectionAttempts=Infinity] Give up after this many attempts in a row.
 * @property {number} [reconnectionDelay=1000] First backoff delay, ms (doubles each attempt).
 * @property {number} [reconnectionDelayMax=10000] Largest backoff delay, ms.
 * @property {number} [randomizationFactor=0.5] Jitter of the backoff delay (0 to 1).
 * @property {number} [ackTimeout=10000] How long a request (joinTask, markRead, ...) waits for its answer, ms.
 * @property {number} [connectTimeout=20000] How long `connect()` waits for the first `replay:done`, ms.
 * @property {number} [typingIdleTimeout=3000] `setTyping(taskId, false)` is sent by itself after this long without `setTyping(taskId, true)`, ms.
 * @property {number} [typingRefreshInterval=2000] While typing, `true` is re-sent this often so the server's
 *   `TYPING_TIMEOUT_SECONDS` (default 5 s) does not clear it; keep it below that timeout.
 * @property {number|null} [lastNotificationId] Resume notifications after this id (e.g. kept in localStorage);
 *   without it the first connection replays the user's unread notifications.
 * @property {number|null} [lastActivityId] Resume the activity feed after this id; without it the first
 *   connection replays no activity.
 * @property {number|null} [lastNotificationSeq] Resume notifications after this stream position (SPEC §9);
 *   the server prefers it to `lastNotificationId`.
 * @property {number|null} [lastActivitySeq] Resume the activity feed after this stream position.
 * @property {boolean} [resumeActivity=true] Take the activity position from `replay:done` when no activity
 *   has been seen yet, so that a reconnect still replays the activity missed meanwhile.
 * @property {string} [apiUrl] Base URL of the REST API (default `url + "/api/v1/realtime"`), where a hole in
 *   a stream is read from.
 * @property {object} [socketOptions] Any other socket.io-client option (`extraHeaders`, `timeout`, ...).
 */

/**
 * The `resync` event: a live item came more than one past the last `seq` delivered. `via: "rest"`:
 * the items between were read from the REST API and delivered first (`missing` of them were not
 * there — activity this user may not see, pruned — and were passed over). `via: "reconnect"`: the
 * REST read failed; the client reconnects and the replay from its seq cursor fills the hole.
 * @typedef {object} ResyncEvent
 * @property {"notification"|"activity"} stream
 * @property {number} afterSeq the last seq delivered before the hole
 * @property {number} beforeSeq the seq of the item that showed the hole
 * @property {number} fetched
 * @property {number} missing
 * @property {"rest"|"reconnect"} via
 */

/**
 * @typedef {object} ResyncStats
 * @property {number} duplicates repeats dropped
 * @property {number} rest holes filled from the REST API
 * @property {number} reconnect holes left to a reconnect's replay
 * @property {number} missing items the REST API did not return, passed over
 */

/**
 * Client of DevTracker Realtime.
 *
 * ```js
 * const client = new RealtimeClient({ url: "http://localhost:5000", token });
 * client.on("notification", (n) => showToast(n.message));
 * await client.connect();
 * const { viewingUsers } = await client.joinTask("task_123");
 * ```
 *
 * Events for `on()`: every server event of SPEC §3 (`notification`, `activity:feed`,
 * `task:updated`, `task:typing`, `presence:list`, `system:*`, ...) with its payload, and the
 * local lifecycle events `connect` ({reconnected, replay}), `disconnect` ({reason, willReconnect}),
 * `reconnecting` ({attempt}) and `error` ({code, message, event, details?}: the server's `error`
 * event, a refused reconnection, or a failed fire-and-forget call).
 *
 * `notification` and `activity:feed` reach the handlers once each, in `seq` order, across reconnects;
 * a hole is read from the REST API first (SPEC §9), and reported as `resync` ({@link ResyncEvent}).
 */
export class RealtimeClient {
  #options;
  #token;
  #socket = null;
  #handlers = new Map();
  #tasks = new Set();
  #pendingJoins = new Map();
  #typing = new Map();
  #presence = "online";
  #notificationCursor = null;
  #activityCursor = null;
  #seqs = { notification: null, activity: null };
  #replaying = false;
  #awaitingReplay = new Set(); // streams whose hole a reconnect's replay fills
  #held = null; // while a hole is read: the server events that came after it, in order
  #resyncStats = { duplicates: 0, rest: 0, reconnect: 0, missing: 0 };
  #ready = false;
  #everReady = false;
  #readyWaiters = [];
  #connecting = null;
  #lastReplay = null;
  #lastServerError = null;

  /**
   * @param {RealtimeClientOptions} options
   */
  constructor(options) {
    if (!options || typeof options.token !== "string" || options.token === "") {
      throw new TypeError("RealtimeClient needs {token}");
    }
    this.#options = { ...DEFAULTS, ...options };
    this.#token = options.token;
    if (isId(options.lastNotificationId)) this.#notificationCursor = options.lastNotificationId;
    if (isId(options.lastActivityId)) this.#activityCursor = options.lastActivityId;
    if (isId(options.lastNotificationSeq)) this.#seqs.notification = options.lastNotificationSeq;
    if (isId(options.lastActivitySeq)) this.#seqs.activity = options.lastActivitySeq;
  }

  // --- state -------------------------------------------------------------------------------

  /** True once the connection is authenticated and caught up (after `replay:done`), until it drops. */
  get connected() {
    return this.#ready;
  }

  /** Largest notification id delivered to the handlers (null before the first). */
  get notificationCursor() {
    return this.#notificationCursor;
  }

  /** Largest activity id delivered to the handlers (null before the first). */
  get activityCursor() {
    return this.#activityCursor;
  }

  /** The user's notification stream position delivered (SPEC §9; null before `replay:done`). */
  get notificationSeq() {
    return this.#seqs.notification;
  }

  /** The activity stream position delivered (null before `replay:done`). */
  get activitySeq() {
    return this.#seqs.activity;
  }

  /** What the ordering did so far. @returns {ResyncStats} */
  get resyncs() {
    return { ...this.#resyncStats };
  }

  /** The underlying socket.io-client Socket (null before `connect()`), for advanced use. */
  get socket() {
    return this.#socket;
  }

  // --- connection --------------------------------------------------------------------------

  /**
   * Open the connection. Resolves with `replay:done` ({notifications, activity, truncated}) once
   * the user is authenticated and everything missed has been delivered to the handlers.
   * Rejects with an Error carrying `code` when the server refuses the handshake
   * (`TOKEN_MISSING`, `TOKEN_INVALID`, `TOKEN_EXPIRED`, ...), or `CONNECT_TIMEOUT` /
   * `RECONNECT_FAILED` when the server cannot be reached.
   * @returns {Promise<{notifications: number, activity: number, truncated: boolean}>}
   */
  connect() {
    if (this.#ready) return Promise.resolve(this.#lastReplay);
    if (this.#connecting) return this.#connecting.promise;
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    const timer = setTimeout(() => {
      this.#failConnect(realtimeError("No connection within connectTimeout.", "CONNECT_TIMEOUT"));
    }, this.#options.connectTimeout);
    this.#connecting = { promise, resolve, reject, timer };
    if (!this.#socket) {
      this.#socket = this.#createSocket();
      this.#socket.connect();
    } else if (!this.#socket.active) {
      this.#socket.connect();
    }
    return promise;
  }

  /**
   * Close the connection for good (no reconnection). Joined tasks, typing and presence are
   * forgotten; the cursors are kept, so a later `connect()` resumes without duplicates.
   */
  disconnect() {
    const socket = this.#socket;
    this.#socket = null;
    this.#tasks.clear();
    this.#presence = "online";
    this.#clearTyping();
    this.#failConnect(realtimeError("disconnect() was called.", "CLIENT_CLOSED"), false);
    this.#rejectWaiters(realtimeError("disconnect() was called.", "CLIENT_CLOSED"));
    if (socket) socket.disconnect(); // emits `disconnect` ({reason: "io client disconnect"})
    this.#ready = false;
    this.#everReady = false; // a later connect() starts a new session (with the same cursors)
  }

  /**
   * Give the connection a new token for the same user (e.g. on `auth:expired`). When connected it
   * is sent as `auth:refresh` and the promise resolves with `{userId, expiresAt}` (rejecting with
   * `code` if refused); when not, it is used by the next (re)connection, and a connection that
   * was refused is tried again.
   * @param {string} token
   * @returns {Promise<{userId: string, expiresAt: string|null}|null>}
   */
  async refreshToken(token) {
    if (typeof token !== "string" || token === "") throw new TypeError("token must be a string");
    const socket = this.#socket;
    if (socket && socket.connected) {
      const data = await this.#send("auth:refresh", [token]);
      this.#token = token;
      return data;
    }
    this.#token = token;
    if (socket && !socket.active) socket.connect();
    return null;
  }

  // --- events ------------------------------------------------------------------------------

  /**
   * Listen to an event (server events of SPEC §3, or `connect`, `disconnect`, `reconnecting`, `error`).
   * @param {string} event
   * @param {(payload: any) => void} handler
   * @returns {() => void} unsubscribe
   */
  on(event, handler) {
    if (typeof handler !== "function") throw new TypeError("handler must be a function");
    let set = this.#handlers.get(event);
    if (!set) this.#handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => this.off(event, handler);
  }

  /**
   * Listen to the next occurrence of an event only.
   * @param {string} event
   * @param {(payload: any) => void} handler
   * @returns {() => void} unsubscribe
   */
  once(event, handler) {
    const off = this.on(event, (payload) => { off(); handler(payload); });
    return off;
  }

  /**
   * Stop listening: one handler, or every handler of the event when none is given.
   * @param {string} event
   * @param {(payload: any) => void} [handler]
   */
  off(event, handler) {
    const set = this.#handlers.get(event);
    if (!set) return;
    if (handler === undefined) set.clear();
    else set.delete(handler);
    if (set.size === 0) this.#handlers.delete(event);
  }

  // --- task rooms --------------------------------------------------------------------------

  /**
   * Join a task room (kept across reconnects until `leaveTask`). Waits for the connection if
   * it is being (re)established.
   * @param {string} taskId
   * @returns {Promise<{taskId: string, viewingUsers: Array<{userId: string, username: string, status: string}>, typingUsers: string[], totalViewing: number}>}
   *   rejects with an Error carrying `code` and `details` (e.g. `VALIDATION_ERROR`, `TOO_MANY_TASKS`).
   */
  joinTask(taskId) {
    checkTaskId(taskId);
    this.#tasks.add(taskId);
    return this.#join(taskId).catch((error) => {
      if (ANSWERED.has(error)) this.#tasks.delete(taskId); // refused by the server: nothing to restore
      throw error;
    });
  }

  /**
   * Leave a task room (and stop typing there). Never rejects: a failure reaches `error` handlers.
   * @param {string} taskId
   * @returns {Promise<void>}
   */
  async leaveTask(taskId) {
    checkTaskId(taskId);
    this.#tasks.delete(taskId);
    this.#stopTypingTimers(taskId);
    if (!this.#ready) return; // not in the room on the server; a pending join is cancelled
    try {
      await this.#send("task:leave", [taskId]);
    } catch (error) {
      this.#reportError(error, "task:leave");
    }
  }

  /**
   * Tell the task's other viewers whether this user is typing. Call it on every keystroke with
   * `true`: only changes are sent, `true` is refreshed every `typingRefreshInterval` while typing
   * goes on, and `false` is sent by itself after `typingIdleTimeout` without a call.
   * @param {string} taskId a task joined with `joinTask`
   * @param {boolean} isTyping
   */
  setTyping(taskId, isTyping) {
    checkTaskId(taskId);
    const state = this.#typing.get(taskId);
    if (!isTyping) {
      if (state) this.#stopTyping(taskId);
      return;
    }
    if (!this.#tasks.has(taskId)) {
      this.#emit("error", { code: "NOT_IN_TASK", message: "Join the task before typing in it.",
        event: "task:typing" });
      return;
    }
    if (!this.#ready) return; // typing is volatile: nothing to send while offline
    if (state) {
      clearTimeout(state.idle);
      state.idle = setTimeout(() => this.#stopTyping(taskId), this.#options.typingIdleTimeout);
      return;
    }
    this.#typing.set(taskId, {
      idle: setTimeout(() => this.#stopTyping(taskId), this.#options.typingIdleTimeout),
      refresh: setInterval(() => this.#sendTyping(taskId, true), this.#options.typingRefreshInterval),
    });
    this.#sendTyping(taskId, true);
  }

  // --- presence and notifications ----------------------------------------------------------

  /**
   * Set this device's status; kept across reconnects. Never rejects: resolves with the user's
   * presence, or null when offline (the status is applied on reconnection) or on failure
   * (reported to `error` handlers).
   * @param {"online"|"away"} status
   * @returns {Promise<object|null>}
   */
  async updatePresence(status) {
    if (!PRESENCE_STATUSES.includes(status)) throw new TypeError('status must be "online" or "away"');
    this.#presence = status;
    if (!this.#ready) return null;
    try {
      return await this.#send("presence:update", [status]);
    } catch (error) {
      this.#reportError(error, "presence:update");
      return null;
    }
  }

  /**
   * Mark notifications read; every device of the user gets `notification:read`.
   * @param {number|number[]} idOrIds
   * @returns {Promise<{ids: number[], unreadCount: number}>}
   */
  markRead(idOrIds) {
    const payload = Array.isArray(idOrIds) ? { ids: idOrIds } : { id: idOrIds };
    return this.#request("notification:read", [payload]);
  }

  /**
   * Mark every notification of the user read.
   * @returns {Promise<{ids: number[], unreadCount: number}>}
   */
  markAllRead() {
    return this.#request("notification:read_all", []);
  }

  // --- internals ---------------------------------------------------------------------------

  #createSocket() {
    const o = this.#options;
    const socketOptions = {
      ...(o.socketOptions || {}),
      forceNew: true,
      autoConnect: false,
      reconnection: o.reconnection,
      reconnectionAttempts: o.reconnectionAttempts,
      reconnectionDelay: o.reconnectionDelay,
      reconnectionDelayMax: o.reconnectionDelayMax,
      randomizationFactor: o.randomizationFactor,
      // A function, so every (re)connection carries the current token and cursors.
      auth: (cb) => cb(this.#handshakeAuth()),
    };
    if (o.transports) socketOptions.transports = o.transports;
    if (o.path) socketOptions.path = o.path;
    const socket = o.url ? io(o.url, socketOptions) : io(socketOptions);

    socket.on("connect", () => {
      this.#lastServerError = null;
      this.#dispatch(socket, CONNECTED);
    });
    socket.on("connect_error", (error) => this.#onConnectError(socket, error));
    socket.on("disconnect", (reason) => this.#onDisconnect(socket, reason));
    socket.onAny((event, ...args) => this.#dispatch(socket, event, args[0]));
    socket.io.on("reconnect_attempt", (attempt) => {
      if (socket === this.#socket) this.#emit("reconnecting", { attempt });
    });
    socket.io.on("reconnect_failed", () => {
      if (socket !== this.#socket) return;
      const error = realtimeError("Could not reconnect.", "RECONNECT_FAILED");
      if (!this.#failConnect(error)) this.#emit("error", errorEvent(error, null));
      this.#rejectWaiters(error);
    });
    return socket;
  }

  #handshakeAuth() {
    const auth = { token: this.#token };
    if (this.#notificationCursor !== null) auth.lastNotificationId = this.#notificationCursor;
    if (this.#activityCursor !== null) auth.lastActivityId = this.#activityCursor;
    if (this.#seqs.notification !== null) auth.lastNotificationSeq = this.#seqs.notification;
    if (this.#seqs.activity !== null) auth.lastActivitySeq = this.#seqs.activity;
    return auth;
  }

  #onConnectError(socket, error) {
    if (socket !== this.#socket) return;
    const refused = !socket.active; // the server answered no: socket.io will not retry by itself
    if (!refused && this.#options.reconnection !== false) return; // backoff continues: `reconnecting`
    const data = error && error.data;
    const failure = realtimeError((data && data.message) || error.message,
      (data && data.code) || (refused ? "CONNECTION_REFUSED" : "CONNECTION_FAILED"),
      { details: data && data.details });
    if (!this.#failConnect(failure)) this.#emit("error", errorEvent(failure, null));
    this.#rejectWaiters(failure);
  }

  #onDisconnect(socket, reason) {
    if (socket !== this.#socket && this.#socket !== null) return;
    const wasReady = this.#ready;
    this.#ready = false;
    this.#clearTyping(); // the server clears typing on disconnect
    const willReconnect = socket.active && this.#socket !== null;
    if (!willReconnect && this.#socket !== null && !this.#everReady) {
      this.#failConnect(this.#lastServerError || realtimeError(`Disconnected: ${reason}`, "DISCONNECTED"));
    }
    if (!willReconnect && this.#socket !== null) {
      this.#rejectWaiters(this.#lastServerError || realtimeError(`Disconnected: ${reason}`, "DISCONNECTED"));
    }
    if (wasReady || this.#socket === null) this.#emit("disconnect", { reason, willReconnect });
  }

  /** Server events in arrival order; while a hole is being read, they wait behind it. */
  #dispatch(socket, event, payload) {
    if (this.#held) {
      this.#held.push([socket, event, payload]);
      return;
    }
    if (socket !== this.#socket) return;
    if (event === CONNECTED) {
      this.#replaying = true; // until replay:done holes are expected (unread-only, capped activity)
      return;
    }
    this.#onServerEvent(socket, event, payload);
  }

  #onServerEvent(socket, event, payload) {
    if (event === "replay:done") {
      this.#onReplayDone(payload);
      return;
    }
    if (event === "error") {
      if (payload && payload.code) {
        this.#lastServerError = realtimeError(payload.message, payload.code,
          { details: payload.details, event: payload.event ?? null });
      }
      this.#emit("error", payload);
      return;
    }
    const stream = CURSOR_EVENTS[event];
    if (stream && payload && typeof payload === "object") {
      this.#admit(socket, event, stream, payload);
      return;
    }
    this.#emit(event, payload);
  }

  /** Deliver a stream item once, in seq order; a hole is read from the REST API first. */
  #admit(socket, event, stream, item) {
    const seq = seqOf(item);
    const last = this.#seqs[stream];
    if (seq === null) { // a server without seq: the id cursor alone drops repeats
      const cursor = stream === "notification" ? this.#notificationCursor : this.#activityCursor;
      if (cursor !== null && isId(item.id) && item.id <= cursor) return;
      this.#deliver(event, stream, item);
      return;
    }
    if (last !== null && seq <= last) {
      this.#resyncStats.duplicates += 1;
      return;
    }
    if (last === null || seq === last + 1 || this.#replaying) {
      this.#deliver(event, stream, item);
      return;
    }
    if (this.#awaitingReplay.has(stream)) return; // the reconnect's replay brings it, in order
    const record = { stream, afterSeq: last, beforeSeq: seq, fetched: 0, missing: 0, via: "rest" };
    const afterId = stream === "notification" ? this.#notificationCursor : this.#activityCursor;
    this.#held = [];
    this.#fetchBetween(stream, last, seq, afterId, isId(item.id) ? item.id : null).then((found) => {
      record.fetched = found.length;
      record.missing = seq - last - 1 - found.length; // not visible to this user, or pruned: passed over
      this.#resyncStats.rest += 1;
      this.#resyncStats.missing += record.missing;
      if (socket !== this.#socket) return; // closed meanwhile: the next replay starts from the cursor
      for (const x of [...found, item]) {
        if (seqOf(x) > this.#seqs[stream]) this.#deliver(event, stream, x);
      }
      this.#emit("resync", record);
    }, () => {
      this.#resyncStats.reconnect += 1;
      this.#awaitingReplay.add(stream);
      Object.assign(record, { missing: seq - last - 1, via: "reconnect" });
      this.#emit("resync", record);
      // Closing the transport is a lost connection to socket.io-client: it reconnects, with the cursors.
      if (socket === this.#socket && socket.io.engine) socket.io.engine.close();
    }).finally(() => {
      const queue = this.#held;
      this.#held = null;
      for (const [s, e, p] of queue) this.#dispatch(s, e, p);
    });
  }

  #deliver(event, stream, item) {
    const seq = seqOf(item);
    if (seq !== null && (this.#seqs[stream] === null || seq > this.#seqs[stream])) this.#seqs[stream] = seq;
    if (isId(item.id)) {
      if (stream === "notification") {
        if (this.#notificationCursor === null || item.id > this.#notificationCursor) this.#notificationCursor = item.id;
      } else if (this.#activityCursor === null || item.id > this.#activityCursor) {
        this.#activityCursor = item.id;
      }
    }
    this.#emit(event, item);
  }

  /** Items with afterSeq < seq < beforeSeq from the REST API, in seq order. */
  async #fetchBetween(stream, afterSeq, beforeSeq, afterId, beforeId) {
    const found = new Map();
    let cursor = beforeId;
    for (;;) {
      const page = stream === "notification"
        ? await this.#restGet("/notifications", { limit: PAGE, before: cursor })
        : await this.#restGet("/activity", { limit: PAGE, before: cursor, after: afterId });
      const rows = (stream === "notification" ? page.notifications : page.activities) || [];
      for (const row of rows) {
        const seq = seqOf(row);
        if (seq !== null && seq > afterSeq && seq < beforeSeq) found.set(seq, row);
      }
      const oldest = rows.length ? seqOf(rows[rows.length - 1]) : null;
      if (!page.hasMore || !isId(page.nextCursor) || oldest === null || oldest <= afterSeq + 1) {
        return [...found.keys()].sort((a, b) => a - b).map((seq) => found.get(seq));
      }
      cursor = page.nextCursor;
    }
  }

  /** GET from the REST API with the user's token; one retry; rejects on failure. */
  async #restGet(path, params) {
    const o = this.#options;
    const base = (o.apiUrl || `${o.url || globalThis.location.origin}${API_PREFIX}`).replace(/\/$/, "");
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined) query.set(key, String(value));
    }
    let failure;
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        const response = await fetch(`${base}${path}?${query}`, {
          headers: { Authorization: `Bearer ${this.#token}`, Accept: "application/json" },
          signal: AbortSignal.timeout(o.ackTimeout),
        });
        const body = await response.json().catch(() => null);
        if (response.ok && body && body.success) return body.data;
        failure = realtimeError(`GET ${path} answered ${response.status}.`, "RESYNC_FAILED");
        if (response.status < 500 && response.status !== 429) break;
      } catch (error) {
        failure = realtimeError(`GET ${path} failed: ${error.message}`, "RESYNC_FAILED");
      }
      await sleep(200);
    }
    throw failure;
  }

  #onReplayDone(replay) {
    const reconnected = this.#everReady;
    this.#ready = true;
    this.#everReady = true;
    this.#lastReplay = replay;
    this.#replaying = false;
    this.#awaitingReplay.clear();
    this.#advanceCursors(replay);
    if (this.#connecting) {
      clearTimeout(this.#connecting.timer);
      this.#connecting.resolve(replay);
      this.#connecting = null;
    }
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    this.#emit("replay:done", replay);
    const restored = this.#restore();
    waiters.forEach((w) => w.resolve());
    restored.then(() => {
      if (this.#ready) this.#emit("connect", { reconnected, replay });
    });
  }

  /** After a (re)connection: re-join the task rooms and re-send a non-default presence. */
  async #restore() {
    const jobs = [...this.#tasks].map((taskId) => this.#join(taskId).catch((error) => {
      if (ANSWERED.has(error)) this.#tasks.delete(taskId);
      // A lost or refused connection is reported once, by the connection; the room stays wanted.
      if (ANSWERED.has(error) || error.code === "TIMEOUT") this.#reportError(error, "task:join");
    }));
    if (this.#presence === "away") {
      jobs.push(this.#send("presence:update", ["away"]).catch((error) => {
        if (ANSWERED.has(error) || error.code === "TIMEOUT") this.#reportError(error, "presence:update");
      }));
    }
    await Promise.all(jobs);
  }

  /** One join at a time per task: waits for the connection, retries after a drop or a rate limit. */
  #join(taskId) {
    const pending = this.#pendingJoins.get(taskId);
    if (pending) return pending;
    const attempt = (async () => {
      let limited = 0;
      for (;;) {
        await this.#whenReady();
        if (!this.#tasks.has(taskId)) {
          throw realtimeError("leaveTask() was called before the join completed.", "CANCELLED",
            { event: "task:join" });
        }
        try {
          return await this.#send("task:join", [taskId]);
        } catch (error) {
          if (error.code === "DISCONNECTED" && this.#socket && this.#tasks.has(taskId)) continue;
          if (error.code === "RATE_LIMITED" && limited < 20) {
            limited += 1;
            await sleep(200 * limited);
            continue;
          }
          throw error;
        }
      }
    })();
    this.#pendingJoins.set(taskId, attempt);
    attempt.finally(() => {
      if (this.#pendingJoins.get(taskId) === attempt) this.#pendingJoins.delete(taskId);
    }).catch(() => {});
    return attempt;
  }

  // replay:done says where each stream stands: everything up to there has been delivered.
  #advanceCursors(replay) {
    const newest = replay || {};
    if (isId(newest.lastNotificationId) && (this.#notificationCursor === null || newest.lastNotificationId > this.#notificationCursor)) {
      this.#notificationCursor = newest.lastNotificationId;
    }
    if (this.#options.resumeActivity && isId(newest.lastActivityId)
        && (this.#activityCursor === null || newest.lastActivityId > this.#activityCursor)) {
      this.#activityCursor = newest.lastActivityId;
    }
    if (isId(newest.lastNotificationSeq) && (this.#seqs.notification === null || newest.lastNotificationSeq > this.#seqs.notification)) {
      this.#seqs.notification = newest.lastNotificationSeq;
    }
    if (this.#options.resumeActivity && isId(newest.lastActivitySeq)
        && (this.#seqs.activity === null || newest.lastActivitySeq > this.#seqs.activity)) {
      this.#seqs.activity = newest.lastActivitySeq;
    }
  }

  #whenReady() {
    if (this.#ready) return Promise.resolve();
    if (!this.#socket) {
      return Promise.reject(realtimeError("Not connected: call connect() first.", "NOT_CONNECTED"));
    }
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  #rejectWaiters(error) {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    waiters.forEach((w) => w.reject(error));
  }

  /** Returns whether a pending `connect()` was failed. */
  #failConnect(error, teardown = true) {
    const connecting = this.#connecting;
    if (!connecting) return false;
    this.#connecting = null;
    clearTimeout(connecting.timer);
    if (teardown && !this.#everReady && this.#socket) {
      // connect() failed before any session: stop trying in the background.
      const socket = this.#socket;
      this.#socket = null;
      socket.disconnect();
      this.#rejectWaiters(error);
    }
    connecting.reject(error);
    return true;
  }

  async #request(event, args) {
    await this.#whenReady();
    return this.#send(event, args);
  }

  /** Emit with an ack; resolve with the envelope's data, reject with its error. */
  #send(event, args) {
    const socket = this.#socket;
    if (!socket || !socket.connected) {
      return Promise.reject(realtimeError("Not connected.", "DISCONNECTED", { event }));
    }
    return new Promise((resolve, reject) => {
      socket.timeout(this.#options.ackTimeout).emit(event, ...args, (error, envelope) => {
        if (error) {
          const lost = !socket.connected || /disconnected/.test(error.message);
          reject(realtimeError(lost ? "Disconnected before the answer." : "No answer in time.",
            lost ? "DISCONNECTED" : "TIMEOUT", { event }));
        } else if (envelope && envelope.success) {
          resolve(envelope.data);
        } else {
          reject(errorFromEnvelope(envelope, event));
        }
      });
    });
  }

  #sendTyping(taskId, isTyping) {
    if (this.#ready && this.#socket) this.#socket.emit("task:typing", { taskId, isTyping });
  }

  #stopTyping(taskId) {
    if (this.#stopTypingTimers(taskId)) this.#sendTyping(taskId, false);
  }

  #stopTypingTimers(taskId) {
    const state = this.#typing.get(taskId);
    if (!state) return false;
    clearTimeout(state.idle);
    clearInterval(state.refresh);
    this.#typing.delete(taskId);
    return true;
  }

  #clearTyping() {
    [...this.#typing.keys()].forEach((taskId) => this.#stopTypingTimers(taskId));
  }

  #reportError(error, event) {
    if (error.code === "CLIENT_CLOSED") return;
    this.#emit("error", errorEvent(error, event));
  }

  #emit(event, payload) {
    const set = this.#handlers.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(payload);
      } catch (error) {
        setTimeout(() => { throw error; }); // a faulty handler must not break the others
      }
    }
  }
}

export default RealtimeClient;

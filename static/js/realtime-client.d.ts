/// <reference lib="es2015.iterable" />
// Type declarations of the DevTracker Realtime JavaScript SDK (realtime-client.js).
// Payload shapes are SPEC.md §3; timestamps are ISO 8601 UTC strings ending in `Z`.
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";

// --- payloads (SPEC §3) -----------------------------------------------------------------------

export type PresenceStatus = "online" | "away" | "offline";

/** A user's presence, aggregated over their devices. */
export interface UserPresence {
  userId: string;
  username: string;
  status: PresenceStatus;
  lastSeen: string | null;
  /** The task the user is viewing, if any. */
  currentTask: string | null;
  /** Connected sockets of the user (0 during the grace period after the last one left). */
  devices: number;
}

export type TaskAction = "created" | "updated" | "deleted" | "status_changed";

export interface TaskUpdate {
  taskId: string;
  action: TaskAction;
  task: Record<string, unknown>;
  userId: string;
  username: string;
  timestamp: string;
}

export type NotificationType = "mention" | "assignment" | "comment" | "update" | "deadline" | "system";

export interface Notification {
  /** Positive integer, increasing per recipient; the SDK's notification cursor. */
  id: number;
  /** The recipient's stream position: 1, 2, 3 ... with no hole (SPEC §9). */
  seq: number;
  type: NotificationType;
  title: string;
  message: string;
  taskId: string | null;
  data: Record<string, unknown> | null;
  timestamp: string;
  read: boolean;
}

export type ActivityType = "task" | "comment" | "user" | "project";

export interface Activity {
  /** Positive integer, increasing; the SDK's activity cursor. */
  id: number;
  /** The activity stream's position: 1, 2, 3 ... with no hole (SPEC §9). */
  seq: number;
  type: ActivityType;
  userId: string;
  username: string;
  action: string;
  target: string;
  taskId: string | null;
  data: Record<string, unknown> | null;
  timestamp: string;
}

/** One viewer of a task room. */
export interface TaskViewer {
  userId: string;
  username: string;
  status: PresenceStatus;
}

/** `joinTask`'s result and `GET /task/<taskId>/users`. */
export interface ViewersState {
  taskId: string;
  viewingUsers: TaskViewer[];
  /** User ids of the viewers typing right now. */
  typingUsers: string[];
  totalViewing: number;
}

/** `task:typing`. */
export interface TypingEvent {
  userId: string;
  username: string;
  taskId: string;
  isTyping: boolean;
}

/** `task:user_joined` and `task:user_left`. */
export interface ViewerEvent {
  userId: string;
  username: string;
  taskId: string;
}

/** `notification:read`, and the result of `markRead` / `markAllRead`. */
export interface ReadState {
  ids: number[];
  unreadCount: number;
}

/** `replay:done`: how much was replayed after (re)connecting. */
export interface ReplayDone {
  notifications: number;
  activity: number;
  /** Whether the activity replay hit `ACTIVITY_REPLAY_LIMIT` (older ones were skipped). */
  truncated: boolean;
  /** The newest notification id of the user: everything up to it has been delivered (null: none yet). */
  lastNotificationId: number | null;
  /** The newest activity id: pass it back as `lastActivityId` to resume the feed (null: none yet). */
  lastActivityId: number | null;
  /** Where the user's notification stream stands (SPEC §9; 0: none yet). */
  lastNotificationSeq: number;
  /** Where the activity stream stands (0: none yet). */
  lastActivitySeq: number;
}

/** `system:*` (sent by `POST /broadcast`). */
export interface SystemEvent<D = Record<string, unknown> | null> {
  message: string;
  data: D;
  timestamp: string;
}

/** The `error` event: the server's, or a local one (refused reconnection, failed call). */
export interface ErrorEvent {
  code: string;
  message: string;
  /** The client event that failed, or null for connection-level errors. */
  event: string | null;
  details?: Record<string, unknown>;
}

export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The envelope of every HTTP response and every ack. */
export type Envelope<T> = { success: true; data: T } | { success: false; error: ErrorBody };

/** `authenticated` (legacy flow; the SDK authenticates in the handshake). */
export type AuthenticatedEvent =
  | { success: true; userId: string; username: string }
  | { success: false; error: ErrorBody };

/** `auth:expired`: refresh the token (`refreshToken`) before `expiresAt`. */
export interface AuthExpiredEvent {
  expiresAt: string;
}

/** The answer to `refreshToken` while connected. */
export interface TokenRefreshed {
  userId: string;
  expiresAt: string | null;
}

// --- local lifecycle events -------------------------------------------------------------------

/** Emitted after every (re)connection, once caught up and task rooms / presence are restored. */
export interface ConnectEvent {
  reconnected: boolean;
  replay: ReplayDone;
}

export interface DisconnectEvent {
  /** socket.io-client's reason: "transport close", "io server disconnect", "io client disconnect", ... */
  reason: string;
  /** Whether the client reconnects by itself. */
  willReconnect: boolean;
}

export interface ReconnectingEvent {
  /** 1 for the first attempt after a drop. */
  attempt: number;
}

/**
 * `resync` (local): a live item came more than one past the last `seq` delivered (SPEC §9).
 * `via: "rest"`: the items between were read from the REST API and delivered first, `missing` of
 * them were not there (activity this user may not see, pruned) and were passed over.
 * `via: "reconnect"`: the REST read failed; the client reconnects and the replay fills the hole.
 */
export interface ResyncEvent {
  stream: "notification" | "activity";
  /** The last seq delivered before the hole. */
  afterSeq: number;
  /** The seq of the item that showed the hole (delivered after the ones read). */
  beforeSeq: number;
  fetched: number;
  missing: number;
  via: "rest" | "reconnect";
}

/** `RealtimeClient.resyncs`: what the ordering did so far. */
export interface ResyncStats {
  /** Repeats dropped. */
  duplicates: number;
  /** Holes filled from the REST API. */
  rest: number;
  /** Holes left to a reconnect's replay. */
  reconnect: number;
  /** Items the REST API did not return, passed over. */
  missing: number;
}

/** Every event `on()` accepts, with its payload. */
export interface RealtimeEventMap {
  connect: ConnectEvent;
  disconnect: DisconnectEvent;
  reconnecting: ReconnectingEvent;
  resync: ResyncEvent;
  error: ErrorEvent;
  authenticated: AuthenticatedEvent;
  "auth:expired": AuthExpiredEvent;
  "replay:done": ReplayDone;
  "user:online": UserPresence;
  "user:offline": UserPresence;
  "presence:update": UserPresence;
  "presence:list": UserPresence[];
  "task:updated": TaskUpdate;
  "task:user_joined": ViewerEvent;
  "task:user_left": ViewerEvent;
  "task:typing": TypingEvent;
  notification: Notification;
  "notification:read": ReadState;
  "activity:feed": Activity;
}

export type RealtimeEventName = keyof RealtimeEventMap;
export type SystemEventName = `system:${string}`;

/** An Error from the SDK: the server's error `code` (and `details`), or a connection code. */
export interface RealtimeError extends Error {
  /**
   * The server's code (`TOKEN_EXPIRED`, `VALIDATION_ERROR`, `NOT_IN_TASK`, `RATE_LIMITED`, ...)
   * or a local one: `CONNECT_TIMEOUT`, `RECONNECT_FAILED`, `CONNECTION_FAILED`, `CONNECTION_REFUSED`,
   * `DISCONNECTED`, `TIMEOUT`, `NOT_CONNECTED`, `CLIENT_CLOSED`, `CANCELLED`.
   */
  code: string;
  details?: Record<string, unknown>;
  event?: string | null;
}

export interface RealtimeClientOptions {
  /** Server origin, e.g. "https://rt.example.com" (default: the page's origin). */
  url?: string;
  /** The user's JWT. */
  token: string;
  /** Socket.IO transports, e.g. ["websocket"]. */
  transports?: string[];
  /** Socket.IO path (default "/socket.io"). */
  path?: string;
  /** Reconnect automatically (default true), with exponential backoff. */
  reconnection?: boolean;
  /** Default Infinity. */
  reconnectionAttempts?: number;
  /** First backoff delay, ms (default 1000). */
  reconnectionDelay?: number;
  /** Largest backoff delay, ms (default 10000). */
  reconnectionDelayMax?: number;
  /** Backoff jitter, 0..1 (default 0.5). */
  randomizationFactor?: number;
  /** How long a request waits for its ack, ms (default 10000). */
  ackTimeout?: number;
  /** How long `connect()` waits for `replay:done`, ms (default 20000). */
  connectTimeout?: number;
  /** `false` is sent by itself after this long without `setTyping(id, true)`, ms (default 3000). */
  typingIdleTimeout?: number;
  /** `true` is re-sent this often while typing, ms (default 2000; keep below the server's typing timeout). */
  typingRefreshInterval?: number;
  /** Resume notifications after this id (without it: the unread ones are replayed first). */
  lastNotificationId?: number | null;
  /** Resume the activity feed after this id (without it: no activity replay on the first connection). */
  lastActivityId?: number | null;
  /** Resume notifications after this stream position (SPEC §9; preferred to the id by the server). */
  lastNotificationSeq?: number | null;
  /** Resume the activity feed after this stream position. */
  lastActivitySeq?: number | null;
  /** Take the activity position from `replay:done` when no activity was seen yet (default true). */
  resumeActivity?: boolean;
  /** REST API base (default `url + "/api/v1/realtime"`): a hole in a stream is read from there. */
  apiUrl?: string;
  /** Any other socket.io-client option. */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export type Unsubscribe = () => void;

export declare class RealtimeClient {
  constructor(options: RealtimeClientOptions);

  /** True once authenticated and caught up (after `replay:done`), until the connection drops. */
  readonly connected: boolean;
  /** Largest notification id delivered to the handlers, or null. */
  readonly notificationCursor: number | null;
  /** Largest activity id delivered to the handlers, or null. */
  readonly activityCursor: number | null;
  /** The notification stream position delivered (SPEC §9), or null before `replay:done`. */
  readonly notificationSeq: number | null;
  /** The activity stream position delivered, or null. */
  readonly activitySeq: number | null;
  /** Repeats dropped and holes filled so far. */
  readonly resyncs: ResyncStats;
  /** The underlying socket.io-client socket (null before `connect()`). */
  readonly socket: Socket | null;

  /** Resolves after `replay:done`; rejects with a RealtimeError (`code`) when refused or unreachable. */
  connect(): Promise<ReplayDone>;
  /** Close for good; cursors are kept for a later `connect()`. */
  disconnect(): void;
  /** New token for the same user; `auth:refresh` when connected, else used on the next connection. */
  refreshToken(token: string): Promise<TokenRefreshed | null>;

  on<K extends RealtimeEventName>(event: K, handler: (payload: RealtimeEventMap[K]) => void): Unsubscribe;
  on<D = Record<string, unknown> | null>(event: SystemEventName, handler: (payload: SystemEvent<D>) => void): Unsubscribe;
  once<K extends RealtimeEventName>(event: K, handler: (payload: RealtimeEventMap[K]) => void): Unsubscribe;
  once<D = Record<string, unknown> | null>(event: SystemEventName, handler: (payload: SystemEvent<D>) => void): Unsubscribe;
  off<K extends RealtimeEventName>(event: K, handler?: (payload: RealtimeEventMap[K]) => void): void;
  off<D = Record<string, unknown> | null>(event: SystemEventName, handler?: (payload: SystemEvent<D>) => void): void;

  /** Join a task room (restored after reconnects until `leaveTask`). */
  joinTask(taskId: string): Promise<ViewersState>;
  /** Leave a task room; never rejects (failures go to `error` handlers). */
  leaveTask(taskId: string): Promise<void>;
  /** Debounced typing indicator: call with `true` on every keystroke. */
  setTyping(taskId: string, isTyping: boolean): void;
  /** This device's status, kept across reconnects; never rejects (null when offline or failed). */
  updatePresence(status: "online" | "away"): Promise<UserPresence | null>;
  /** Mark one or more notifications read (synced to every device). */
  markRead(idOrIds: number | number[]): Promise<ReadState>;
  /** Mark every notification read. */
  markAllRead(): Promise<ReadState>;
}

export default RealtimeClient;

// React integration of the DevTracker Realtime SDK — documentation, not shipped code.
//
// The product note's example, corrected:
// - handlers are unsubscribed when the effect ends (the note's never were, so every re-render
//   of TaskPage added another pair and each join showed up several times);
// - the viewer list starts from joinTask's answer (who was already there), adds a user only once
//   (a user joining from a second tab is still one viewer), ignores other tasks' events, and is
//   re-read after a reconnection;
// - the client is disconnected on unmount even when connect() is still pending, and a failed
//   connect() is reported instead of becoming an unhandled rejection;
// - onlineUsers follows user:online / presence:update / user:offline, not only presence:list.
import { useEffect, useState } from "react";
import { RealtimeClient } from "../realtime-client.js";

const DEFAULT_URL = typeof window !== "undefined" ? window.location.origin : undefined;

/**
 * Connect one RealtimeClient for the component tree's lifetime (per token).
 * @param {string} token the user's JWT
 * @param {string} [url] the realtime server (default: this page's origin)
 * @returns {{client: RealtimeClient|null, onlineUsers: object[], error: Error|null}}
 */
export function useRealtime(token, url = DEFAULT_URL) {
  const [client, setClient] = useState(null);
  const [onlineUsers, setOnlineUsers] = useState([]);
  const [error, setError] = useState(null);

  useEffect(() => {
    if (!token) return undefined;
    const rtClient = new RealtimeClient({ url, token });
    let active = true;

    const upsert = (presence) => setOnlineUsers((users) => {
      const others = users.filter((u) => u.userId !== presence.userId);
      return presence.status === "offline" ? others : [...others, presence];
    });
    const offs = [
      rtClient.on("presence:list", (users) => setOnlineUsers(users)),
      rtClient.on("user:online", upsert),
      rtClient.on("presence:update", upsert),
      rtClient.on("user:offline", upsert),
      rtClient.on("error", (event) => console.warn("realtime:", event.code, event.message)),
    ];

    rtClient.connect().then(
      () => { if (active) setClient(rtClient); },
      (err) => { if (active) setError(err); }, // err.code: TOKEN_EXPIRED, CONNECT_TIMEOUT, ...
    );

    return () => {
      active = false;
      offs.forEach((off) => off());
      rtClient.disconnect();
      setClient(null);
    };
  }, [token, url]);

  return { client, onlineUsers, error };
}

/**
 * Who else is looking at a task, kept in sync; one entry per user.
 * @param {RealtimeClient|null} client
 * @param {string} taskId
 */
export function useTaskViewers(client, taskId) {
  const [viewers, setViewers] = useState([]);

  useEffect(() => {
    if (!client) return undefined;
    let active = true;
    setViewers([]);

    // First load: keep anyone whose task:user_joined raced ahead of the answer. After a
    // reconnection: replace, since people may have left while we were away.
    const load = (replace) => client.joinTask(taskId).then(
      (state) => {
        if (!active) return;
        setViewers((prev) => {
          const extra = replace ? [] : prev.filter((v) => !state.viewingUsers.some((u) => u.userId === v.userId));
          return [...state.viewingUsers, ...extra];
        });
      },
      (err) => { if (active) console.warn(`cannot join ${taskId}:`, err.code, err.details); },
    );
    const offs = [
      client.on("task:user_joined", (data) => {
        if (data.taskId !== taskId) return;
        setViewers((prev) => (prev.some((v) => v.userId === data.userId) ? prev : [...prev, data]));
      }),
      client.on("task:user_left", (data) => {
        if (data.taskId !== taskId) return;
        setViewers((prev) => prev.filter((v) => v.userId !== data.userId));
      }),
      // The SDK re-joins by itself after a reconnection; ask again for the list it missed.
      client.on("connect", ({ reconnected }) => { if (reconnected) load(true); }),
    ];
    load(false);

    return () => {
      active = false;
      offs.forEach((off) => off());
      client.leaveTask(taskId); // never rejects
    };
  }, [client, taskId]);

  return viewers;
}

/**
 * Who is typing in a task, other than `currentUserId`.
 * @param {RealtimeClient|null} client
 * @param {string} taskId
 * @param {string} currentUserId
 */
export function useTypingUsers(client, taskId, currentUserId) {
  const [typing, setTyping] = useState([]);

  useEffect(() => {
    if (!client) return undefined;
    setTyping([]);
    return client.on("task:typing", (data) => {
      if (data.taskId !== taskId || data.userId === currentUserId) return;
      setTyping((prev) => {
        const others = prev.filter((u) => u.userId !== data.userId);
        return data.isTyping ? [...others, data] : others;
      });
    });
  }, [client, taskId, currentUserId]);

  return typing;
}

// Usage in a component, as in the note.
export function TaskPage({ token, currentUserId, taskId }) {
  const { client, onlineUsers } = useRealtime(token);
  const viewers = useTaskViewers(client, taskId);
  const typing = useTypingUsers(client, taskId, currentUserId);

  return (
    <div>
      <h3>Viewing now: {viewers.length}</h3>
      <ul>
        {viewers.map((v) => <li key={v.userId}>{v.username}</li>)}
      </ul>
      {typing.length > 0 && <p>{typing.map((u) => u.username).join(", ")} typing…</p>}
      <p>{onlineUsers.length} online</p>
      {/* The SDK debounces: call setTyping(taskId, true) on every keystroke; false follows by itself. */}
      <textarea onChange={() => client && client.setTyping(taskId, true)}
                onBlur={() => client && client.setTyping(taskId, false)} />
      <TaskDetails taskId={taskId} />
    </div>
  );
}

// Presence on window focus / blur, as in the note; updatePresence never rejects.
export function usePresenceFromFocus(client) {
  useEffect(() => {
    if (!client) return undefined;
    const away = () => client.updatePresence("away");
    const online = () => client.updatePresence("online");
    window.addEventListener("blur", away);
    window.addEventListener("focus", online);
    return () => {
      window.removeEventListener("blur", away);
      window.removeEventListener("focus", online);
    };
  }, [client]);
}

function TaskDetails({ taskId }) {
  return <p>Task {taskId}</p>;
}

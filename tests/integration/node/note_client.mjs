// A client written from the product note's own examples, with socket.io-client from npm.
// Usage: node note_client.mjs <url> <aliceToken> <bobToken> <serviceToken> <adminToken>
// Prints every event each socket received, as JSON, then exits.
import { io } from "socket.io-client";

const [url, aliceToken, bobToken, serviceToken, adminToken] = process.argv.slice(2);
const log = [];
const api = (path, token, body) =>
  fetch(`${url}/api/v1/realtime${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  }).then((r) => r.json());

function record(who, socket) {
  socket.onAny((event, ...args) => log.push({ who, event, payload: args[0] ?? null }));
}

function waitFor(who, event, test = () => true, ms = 10000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const hit = log.find((e) => e.who === who && e.event === event && test(e.payload));
      if (hit) { clearInterval(timer); resolve(hit.payload); }
      else if (Date.now() - started > ms) { clearInterval(timer); reject(new Error(`${who} never got ${event}`)); }
    }, 10);
  });
}

const ack = (socket, event, payload) => new Promise((resolve) => socket.emit(event, payload, resolve));

// The note's load-test flow: connect, then emit `authenticate` with the token string.
const alice = io(url, { transports: ["websocket"] });
record("alice", alice);
alice.emit("authenticate", aliceToken);
await waitFor("alice", "authenticated");

// The preferred flow: the token in the handshake, over long-polling upgraded to websocket.
const bob = io(url, { auth: { token: bobToken } });
record("bob", bob);
await waitFor("bob", "replay:done");
await waitFor("alice", "user:online", (p) => p.userId === "bob");

const joined = await ack(alice, "task:join", "task_123");
await ack(bob, "task:join", "task_123");
await waitFor("alice", "task:user_joined", (p) => p.userId === "bob");
bob.emit("task:typing", { taskId: "task_123", isTyping: true });
await waitFor("alice", "task:typing", (p) => p.isTyping === true);
bob.emit("task:typing", { taskId: "task_123", isTyping: false });
await waitFor("alice", "task:typing", (p) => p.isTyping === false);
alice.emit("presence:update", "away");
await waitFor("bob", "presence:update", (p) => p.userId === "alice" && p.status === "away");

await api("/task/update", serviceToken, {
  taskId: "task_123", action: "status_changed", ownerId: "alice",
  task: { id: "task_123", status: "IN_PROGRESS" },
});
await waitFor("bob", "task:updated");
const note = await api("/notify/bob", serviceToken, {
  event: "assignment", title: "New Task Assigned",
  message: "You've been assigned to 'API Integration'", data: { taskId: "task_123" },
});
await waitFor("bob", "notification");
bob.emit("notification:read", { id: note.data.id });
await waitFor("bob", "notification:read");
await api("/activity", serviceToken, { type: "task", action: "created", target: "New API Integration Task" });
await waitFor("alice", "activity:feed", (p) => p.target === "New API Integration Task");
await api("/broadcast", adminToken, {
  event: "system:announcement", message: "Server maintenance in 10 minutes",
  data: { maintenance: true, duration: 600 },
});
await waitFor("alice", "system:announcement");
await waitFor("bob", "system:announcement");
bob.emit("task:leave", "task_123");
await waitFor("alice", "task:user_left");
bob.emit("task:typing", { taskId: "nope", isTyping: true });
await waitFor("bob", "error");
bob.disconnect();
await waitFor("alice", "user:offline", (p) => p.userId === "bob");

console.log(JSON.stringify({ joined, log }));
alice.disconnect();
process.exit(0);

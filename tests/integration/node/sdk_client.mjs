// Drives the JavaScript SDK (static/js/realtime-client.js) against the real server.
// Usage (cwd: the repository root):
//   node sdk_client.mjs <url> <aliceToken> <bobToken> <serviceToken> <expiredToken>
// Talks to pytest in JSON lines on stdout:
//   {"type": "READY", ...}    set up; pytest may now stop the server
//   {"type": "OFFLINE"}       both clients lost the server and retried at least twice
//   ... waits for a stdin line `RESTARTED {"alice": [ids], "bob": [ids], "activity": [ids]}` ...
//   {"type": "DONE", ...}     everything observed, then exits 0
// Any failure: the reason on stderr, exit 1.
import readline from "node:readline";
import { RealtimeClient } from "../../../static/js/realtime-client.js";

const [url, aliceToken, bobToken, serviceToken, expiredToken] = process.argv.slice(2);
const TASK = "task_sdk";
const log = [];
let phase = "before";

const out = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const stdinLines = [];
const stdinWaiters = [];
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const waiter = stdinWaiters.shift();
  if (waiter) waiter(line);
  else stdinLines.push(line);
});
const nextLine = () => (stdinLines.length ? Promise.resolve(stdinLines.shift())
  : new Promise((resolve) => stdinWaiters.push(resolve)));

async function api(method, path, token, body) {
  const response = await fetch(`${url}/api/v1/realtime${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const envelope = await response.json();
  if (!envelope.success) throw new Error(`${method} ${path}: ${JSON.stringify(envelope.error)}`);
  return envelope.data;
}

async function waitUntil(predicate, label, ms = 10000) {
  const started = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${label}`);
    await sleep(10);
  }
}

const RECORDED = ["connect", "disconnect", "reconnecting", "error", "replay:done", "notification",
  "notification:read", "activity:feed", "task:user_joined", "task:user_left", "task:typing",
  "presence:update", "user:online", "user:offline"];

function record(who, client) {
  for (const event of RECORDED) {
    client.on(event, (payload) => log.push({ who, event, payload: payload ?? null, phase, t: Date.now() }));
  }
}

const events = (who, event, test = () => true) =>
  log.filter((e) => e.who === who && e.event === event && test(e.payload)).map((e) => e.payload);
const waitFor = (who, event, test = () => true, ms = 10000) =>
  waitUntil(() => events(who, event, test)[0], `${who} ${event}`, ms);
const authOf = (client) => new Promise((resolve) => client.socket.auth(resolve));

const options = {
  url, reconnectionDelay: 300, reconnectionDelayMax: 1000, randomizationFactor: 0,
  typingIdleTimeout: 600, typingRefreshInterval: 300, connectTimeout: 10000,
};
const result = {};

try {
  // --- a refused handshake rejects connect() with the server's code ---------------------------
  result.refused = {};
  for (const [name, token] of [["invalid", "not-a-jwt"], ["expired", expiredToken]]) {
    try {
      await new RealtimeClient({ ...options, token }).connect();
      result.refused[name] = null;
    } catch (error) {
      result.refused[name] = { code: error.code, isError: error instanceof Error, message: error.message };
    }
  }

  // --- connect: alice (two devices) and bob --------------------------------------------------
  const alice = new RealtimeClient({ ...options, token: aliceToken, transports: ["websocket"] });
  const alice2 = new RealtimeClient({ ...options, token: aliceToken }); // polling, upgraded
  const bob = new RealtimeClient({ ...options, token: bobToken, transports: ["websocket"] });
  record("alice", alice);
  record("alice2", alice2);
  record("bob", bob);
  let unsubscribed = 0;
  const off = alice.on("presence:list", () => { unsubscribed += 1; });
  off();

  result.connectedBefore = alice.connected;
  result.aliceReplay = await alice.connect();
  result.connectedAfter = alice.connected;
  await Promise.all([alice2.connect(), bob.connect()]);
  result.unsubscribedCalls = unsubscribed;

  // --- task room ------------------------------------------------------------------------------
  result.aliceJoin = await alice.joinTask(TASK);
  result.bobJoin = await bob.joinTask(TASK);
  await waitFor("alice", "task:user_joined", (p) => p.userId === "bob");
  try {
    await bob.joinTask("bad id!");
    result.badJoin = null;
  } catch (error) {
    result.badJoin = { code: error.code, details: error.details };
  }

  // --- typing: bob types for 1.5 s (server timeout 1 s), then stops ---------------------------
  const typingSent = [];
  bob.socket.onAnyOutgoing((event, payload) => {
    if (event === "task:typing") typingSent.push(payload.isTyping);
  });
  const typingStarted = Date.now();
  while (Date.now() - typingStarted < 1500) {
    bob.setTyping(TASK, true);
    await sleep(100);
  }
  const lastKeystroke = Date.now();
  await waitFor("alice", "task:typing", (p) => p.userId === "bob" && !p.isTyping);
  result.typingIdleMs = Date.now() - lastKeystroke;
  result.typingSentRound1 = [...typingSent];
  result.typingSeenRound1 = events("alice", "task:typing").map((p) => p.isTyping);
  // Explicit false, twice: the second is not a change and is not sent.
  bob.setTyping(TASK, true);
  await sleep(200);
  bob.setTyping(TASK, false);
  bob.setTyping(TASK, false);
  await waitUntil(() => events("alice", "task:typing").length >= 4, "second typing round");
  await sleep(300);
  result.typingSentRound2 = typingSent.slice(result.typingSentRound1.length);
  // Typing in a task not joined is refused locally.
  bob.setTyping("task_other", true);
  await waitFor("bob", "error", (p) => p.code === "NOT_IN_TASK");

  // --- a notification through REST reaches the handler once; markRead syncs -------------------
  const note = await api("POST", "/notify/alice", serviceToken,
    { event: "mention", title: "From the SDK test", message: "@alice look", taskId: TASK });
  result.note = note;
  await waitFor("alice", "notification", (n) => n.id === note.id);
  await waitFor("alice2", "notification", (n) => n.id === note.id);
  result.readAck = await alice.markRead(note.id);
  result.readSynced = await waitFor("alice2", "notification:read", (r) => r.ids.includes(note.id));

  // --- presence: alice's only device goes away -----------------------------------------------
  alice2.disconnect();
  await sleep(200);
  result.awayAck = await alice.updatePresence("away");
  await waitFor("bob", "presence:update", (p) => p.userId === "alice" && p.status === "away");

  // The baseline of the activity cursor (no activity seen yet) is fetched in the background.
  await waitUntil(async () => (await authOf(alice)).lastActivityId !== undefined
    && (await authOf(bob)).lastActivityId !== undefined, "activity baseline");
  await sleep(300); // anything late would show up as a duplicate
  result.authBefore = { alice: await authOf(alice), bob: await authOf(bob) };
  for (const auth of Object.values(result.authBefore)) delete auth.token;
  result.cursorsBefore = { notification: alice.notificationCursor, activity: alice.activityCursor };

  // --- the server goes away and comes back ----------------------------------------------------
  phase = "outage";
  out({ type: "READY", ...result.authBefore });
  await waitUntil(() => ["alice", "bob"].every((who) => events(who, "reconnecting").length >= 2),
    "failed reconnection attempts", 30000);
  result.connectedDuringOutage = alice.connected;
  out({ type: "OFFLINE" });
  const line = await nextLine();
  if (!line.startsWith("RESTARTED")) throw new Error(`unexpected stdin line ${line}`);
  const created = JSON.parse(line.slice("RESTARTED".length));
  phase = "after";

  const reconnected = (who) => events(who, "connect", (c) => c.reconnected).length > 0;
  await waitUntil(() => reconnected("alice") && reconnected("bob"), "reconnection", 30000);
  const lastAlice = created.alice[created.alice.length - 1];
  await waitFor("alice", "notification", (n) => n.id === lastAlice);
  await waitFor("bob", "notification", (n) => n.id === created.bob[created.bob.length - 1]);
  for (const who of ["alice", "bob"]) {
    await waitFor(who, "activity:feed", (a) => a.id === created.activity[created.activity.length - 1]);
  }
  // A live notification after the replay.
  result.live = await api("POST", "/notify/alice", serviceToken,
    { event: "update", title: "Live again", message: "after the restart" });
  await waitFor("alice", "notification", (n) => n.id === result.live.id);
  await sleep(500); // anything duplicated would arrive by now
  result.viewersAfter = await api("GET", `/task/${TASK}/users`, serviceToken);
  result.aliceStatusAfter = await api("GET", "/user/alice/status", serviceToken);
  result.cursorsAfter = { notification: alice.notificationCursor, activity: alice.activityCursor };
  result.authAfter = await authOf(alice);
  delete result.authAfter.token;

  alice.disconnect();
  bob.disconnect();
  result.connectedAfterDisconnect = alice.connected;
  out({ type: "DONE", result, log });
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error.stack}\nresult so far: ${JSON.stringify(result)}\n`
    + `log: ${JSON.stringify(log)}\n`);
  process.exit(1);
}

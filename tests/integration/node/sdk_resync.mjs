// Drives one JavaScript SDK client (static/js/realtime-client.js) for the ordered-stream tests.
// Usage (cwd: the repository root):
//   node sdk_resync.mjs <url> <token> [<options as JSON>]
// Connects over websocket, prints {"type": "READY", "replay": ...}, then answers JSON commands on
// stdin, one per line:
//   {"cmd": "wait", "event": "notification", "id": 7}   -> {"type": "OK"} once that item was seen
//   {"cmd": "state"}   -> {"type": "STATE", "log": [...], "seqs": ..., "cursors": ..., "resyncs": ..., "auth": ...}
//   {"cmd": "exit"}    -> disconnects and exits 0
// Any failure: the reason on stderr, exit 1.
import readline from "node:readline";
import { RealtimeClient } from "../../../static/js/realtime-client.js";

const [url, token, extra] = process.argv.slice(2);
const log = [];
const out = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const client = new RealtimeClient({
  url, token, transports: ["websocket"], reconnectionDelay: 200, reconnectionDelayMax: 1000,
  randomizationFactor: 0, connectTimeout: 10000, ...(extra ? JSON.parse(extra) : {}),
});
for (const event of ["notification", "activity:feed", "resync", "connect", "disconnect", "replay:done"]) {
  client.on(event, (payload) => log.push({ event, payload: payload ?? null }));
}

async function waitFor(event, id, ms = 15000) {
  const started = Date.now();
  while (!log.some((e) => e.event === event && e.payload && e.payload.id === id)) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${event} ${id}`);
    await sleep(10);
  }
}

try {
  const replay = await client.connect();
  out({ type: "READY", replay });
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const command = JSON.parse(line);
    if (command.cmd === "wait") {
      await waitFor(command.event, command.id);
      out({ type: "OK" });
    } else if (command.cmd === "state") {
      const auth = await new Promise((resolve) => client.socket.auth(resolve));
      delete auth.token;
      out({
        type: "STATE", log, auth, resyncs: client.resyncs,
        seqs: { notification: client.notificationSeq, activity: client.activitySeq },
        cursors: { notification: client.notificationCursor, activity: client.activityCursor },
      });
    } else if (command.cmd === "exit") {
      break;
    }
  }
  client.disconnect();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
}

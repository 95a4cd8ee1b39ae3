// Reference server for the fan-out benchmark: Node's http server + socket.io 4, default
// settings except ping 25 s / timeout 60 s / 1 MB buffer. No auth, no database, no replay:
// the same wire protocol as bench/reference/flask_app.py (see bench/reference/README.md).
//
//   node bench/reference/node/server.mjs --port 5102
import http from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const USAGE = `usage: node bench/reference/node/server.mjs [--host HOST] [--port PORT] [--per-message-deflate]

Reference Socket.IO server for the fan-out benchmark: Node's http server + socket.io 4,
no auth, no database. Protocol: bench/reference/README.md.

options:
  --host HOST              address to listen on (default 127.0.0.1)
  --port PORT              port to listen on (default 5102)
  --per-message-deflate    accept the websocket permessage-deflate extension
                           (socket.io's default, kept here, declines it)
  -h, --help               show this help and exit
`;

function options() {
  try {
    const { values } = parseArgs({
      options: {
        host: { type: "string", default: "127.0.0.1" },
        port: { type: "string", default: "5102" },
        "per-message-deflate": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad --port: ${values.port}`);
    return { host: values.host, port, perMessageDeflate: values["per-message-deflate"] };
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
}

const opts = options();

function readJson(request) {
  return new Promise((resolve) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") ?? {});
      } catch {
        resolve({});
      }
    });
    request.on("error", () => resolve({}));
  });
}

function answer(response, status, body) {
  const text = JSON.stringify(body);
  response.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  response.end(text);
}

const httpServer = http.createServer(async (request, response) => {
  const path = request.url.split("?")[0];
  if (request.method === "POST" && path === "/bench/broadcast") {
    const body = await readJson(request);
    io.emit("system:bench", { message: "bench", data: body.data ?? null, timestamp: new Date().toISOString() });
    return answer(response, 200, { success: true, data: { sent: true } });
  }
  if (request.method === "POST" && path === "/bench/room") {
    const body = await readJson(request);
    const taskId = body.taskId ?? null;
    io.to(`task:${taskId}`).emit("task:updated", {
      taskId, action: "updated", task: body.data ?? null,
      userId: "bench", username: "bench", timestamp: new Date().toISOString(),
    });
    return answer(response, 200, { success: true, data: { sent: true } });
  }
  if (request.method === "GET" && path === "/bench/stats") {
    return answer(response, 200, {
      success: true,
      data: { connectedSockets: io.of("/").sockets.size, rssKiB: Math.round(process.memoryUsage().rss / 1024) },
    });
  }
  return answer(response, 404, { success: false, error: { code: "NOT_FOUND", message: `no route ${request.method} ${path}` } });
});

const io = new Server(httpServer, {
  pingInterval: 25000,
  pingTimeout: 60000,
  maxHttpBufferSize: 1e6,
  ...(opts.perMessageDeflate ? { perMessageDeflate: { threshold: 1024 } } : {}),
});

io.on("connection", (socket) => {
  // Any `auth` is accepted; the socket is ready at once.
  socket.emit("replay:done", {});
  socket.on("task:join", (taskId, ack) => {
    socket.join(`task:${taskId}`);
    if (typeof ack === "function") ack({ success: true, data: { taskId } });
  });
});

httpServer.listen(opts.port, opts.host, () => {
  console.log(`reference (node socket.io) listening on http://${opts.host}:${opts.port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}

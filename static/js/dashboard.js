// The dashboard: presence, the activity feed, notifications and the task page, on the SDK.
import { RealtimeClient } from "./realtime-client.js";

const root = document.getElementById("app");
const me = {
  token: root.dataset.token,
  api: root.dataset.api,
  userId: root.dataset.userId,
  username: root.dataset.username,
  role: root.dataset.role,
  page: root.dataset.page,
  taskId: root.dataset.taskId || null,
};
const $ = (id) => document.getElementById(id);
const client = new RealtimeClient({ url: window.location.origin, token: me.token });
window.realtime = client; // handy in the browser console, and for the browser tests

// --- small helpers -------------------------------------------------------------------------
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function initials(name) {
  const parts = String(name).replace(/@.*/, "").split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] || "?") + (parts[1]?.[0] || parts[0]?.[1] || "")).toUpperCase();
}

function avatar(name, status) {
  return el("span", { class: "avatar", dataset: status ? { initials: initials(name), status } : { initials: initials(name) } });
}

function ago(timestamp) {
  const seconds = Math.max(0, (Date.now() - Date.parse(timestamp)) / 1000);
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(timestamp).toLocaleDateString();
}

async function api(path, options = {}) {
  const response = await fetch(me.api + path, {
    ...options,
    headers: { Authorization: `Bearer ${me.token}`, "Content-Type": "application/json", ...(options.headers || {}) },
  });
  const body = await response.json();
  if (!body.success) throw Object.assign(new Error(body.error.message), body.error);
  return body.data;
}

function replaceList(list, items, emptyText) {
  list.replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, emptyText)]));
}

// --- connection state ------------------------------------------------------------------------
const connection = $("connection");
function setConnection(state, text) {
  connection.dataset.state = state;
  connection.querySelector(".connection-text").textContent = text;
}
client.on("connect", () => setConnection("online", "Live"));
client.on("disconnect", () => setConnection("offline", "Offline"));
client.on("reconnecting", () => setConnection("reconnecting", "Reconnecting…"));

// --- presence: who is online -------------------------------------------------------------------
const people = new Map();
function renderPeople() {
  const list = $("people");
  if (!list) return;
  const sorted = [...people.values()].sort((a, b) =>
    (a.status === "online" ? 0 : 1) - (b.status === "online" ? 0 : 1) || a.username.localeCompare(b.username));
  $("online-count").textContent = String(sorted.length);
  replaceList(list, sorted.map((p) => el("li", { class: "person", dataset: { userId: p.userId, status: p.status } },
    avatar(p.username, p.status),
    el("span", { class: "who" },
      el("span", { class: "name" }, p.userId === me.userId ? `${p.username} (you)` : p.username),
      el("span", { class: "detail" },
        `${p.status}${p.devices > 1 ? ` · ${p.devices} devices` : ""}`,
        p.currentTask ? [" · ", el("a", { href: `/tasks/${encodeURIComponent(p.currentTask)}` }, p.currentTask)] : null)))),
  "Nobody is online.");
}
client.on("presence:list", (users) => { people.clear(); users.forEach((u) => people.set(u.userId, u)); renderPeople(); });
client.on("user:online", (u) => { people.set(u.userId, u); renderPeople(); });
client.on("presence:update", (u) => { people.set(u.userId, u); renderPeople(); });
client.on("user:offline", (u) => { people.delete(u.userId); renderPeople(); });

// Away when the window loses focus, back when it regains it.
window.addEventListener("blur", () => client.updatePresence("away").catch(() => {}));
window.addEventListener("focus", () => client.updatePresence("online").catch(() => {}));

// --- notifications: the bell, toasts, read state synced across tabs --------------------------------
const notifications = new Map();
let unread = 0;
let live = false; // toasts only for notifications that arrive live, not for the replay

function setUnread(count) {
  unread = Math.max(0, count);
  const badge = $("unread-count");
  badge.textContent = unread > 99 ? "99+" : String(unread);
  badge.hidden = unread === 0;
}

function renderBell() {
  const items = [...notifications.values()].sort((a, b) => b.id - a.id).slice(0, 30);
  replaceList($("bell-list"), items.map((n) => el("li", {
    class: `item${n.read ? "" : " unread"}`, dataset: { id: n.id },
    onclick: () => openNotification(n),
  }, el("div", { class: "title" }, n.title), el("div", {}, n.message),
  el("div", { class: "meta" }, `${n.type} · ${ago(n.timestamp)}${n.taskId ? ` · ${n.taskId}` : ""}`))), "Nothing yet.");
}

function openNotification(n) {
  if (!n.read) client.markRead(n.id).catch(() => {});
  if (n.taskId) window.location.href = `/tasks/${encodeURIComponent(n.taskId)}`;
}

function toast(title, message) {
  const node = el("div", { class: "toast", role: "status" }, el("div", { class: "title" }, title), el("div", { class: "message" }, message));
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

client.on("notification", (n) => {
  const known = notifications.has(n.id);
  notifications.set(n.id, n);
  if (!known && live) {
    setUnread(unread + 1);
    toast(n.title, n.message);
  }
  renderBell();
});
client.on("notification:read", ({ ids, unreadCount }) => {
  ids.forEach((id) => { const n = notifications.get(id); if (n) n.read = true; });
  setUnread(unreadCount);
  renderBell();
});
$("bell-button").addEventListener("click", (event) => {
  event.stopPropagation();
  const panel = $("bell-panel");
  panel.hidden = !panel.hidden;
  $("bell-button").setAttribute("aria-expanded", String(!panel.hidden));
});
document.addEventListener("click", (event) => { if (!$("bell").contains(event.target)) $("bell-panel").hidden = true; });
$("mark-all").addEventListener("click", () => client.markAllRead().catch(() => {}));

// --- announcements -----------------------------------------------------------------------------
function announce({ message }) {
  $("banner-text").textContent = message;
  $("banner").hidden = false;
}
for (const name of ["system:announcement", "system:maintenance", "system:notice", "system:alert"]) client.on(name, announce);
$("banner-close").addEventListener("click", () => { $("banner").hidden = true; });

// --- the activity feed -----------------------------------------------------------------------------
const activity = new Map();
let olderCursor = null;

function describe(a) {
  if (a.type === "comment" && a.taskId) {
    return [el("strong", {}, a.username), " commented on ", el("a", { href: `/tasks/${encodeURIComponent(a.taskId)}` }, a.taskId),
      el("span", { class: "quote" }, `“${a.target}”`)];
  }
  const verb = { commented: "commented on", created: "created", updated: "updated", deleted: "deleted", status_changed: "changed the status of" }[a.action] || a.action;
  return [el("strong", {}, a.username), ` ${verb} `, a.taskId && a.type !== "comment"
    ? el("a", { href: `/tasks/${encodeURIComponent(a.taskId)}` }, a.target) : el("span", {}, a.target)];
}

function feedEntry(a) {
  return el("li", { class: "entry", dataset: { id: a.id } }, avatar(a.username),
    el("span", { class: "text" }, el("span", { class: "tag" }, a.type), describe(a)),
    el("span", { class: "time", title: a.timestamp }, ago(a.timestamp)));
}

function renderFeed() {
  const list = $("feed");
  if (!list) return;
  const items = [...activity.values()].sort((a, b) => b.id - a.id);
  replaceList(list, items.map(feedEntry), "No activity yet.");
  const tasks = [...new Set(items.map((a) => a.taskId).filter(Boolean))].slice(0, 12);
  replaceList($("recent-tasks"), tasks.map((t) => el("li", {}, el("a", { href: `/tasks/${encodeURIComponent(t)}` }, t))), "");
}

async function loadFeed(before) {
  const page = await api(`/activity?limit=30${before ? `&before=${before}` : ""}`);
  page.activities.forEach((a) => activity.set(a.id, a));
  olderCursor = page.nextCursor;
  $("feed-more").hidden = !page.hasMore;
  renderFeed();
}

// --- the task page -----------------------------------------------------------------------------------
const viewers = new Map();
const typists = new Map();
const taskUpdates = new Map();

function renderViewers() {
  replaceList($("viewers"), [...viewers.values()].map((v) =>
    el("li", { dataset: { userId: v.userId } }, avatar(v.username, v.status || "online"), v.userId === me.userId ? "you" : v.username)), "");
}

function renderTyping() {
  const names = [...typists.values()];
  $("typing").textContent = names.length === 0 ? ""
    : names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : `${names.length} people are typing…`;
}

function taskEntry(item) {
  if (item.kind === "update") {
    const u = item.value;
    const status = u.task?.status ? ` → ${u.task.status}` : "";
    return el("li", { class: "entry" }, avatar(u.username),
      el("span", { class: "text" }, el("strong", {}, u.username), ` ${u.action.replace("_", " ")}${status}`),
      el("span", { class: "time", title: u.timestamp }, ago(u.timestamp)));
  }
  return feedEntry(item.value);
}

function renderTaskUpdates() {
  const items = [...taskUpdates.values()].sort((a, b) => Date.parse(b.value.timestamp) - Date.parse(a.value.timestamp));
  replaceList($("task-updates"), items.map(taskEntry), "No updates yet.");
}

function applyTask(task) {
  if (task?.title) $("task-title").textContent = task.title;
  if (task?.status) { $("task-status").textContent = task.status; $("task-status").hidden = false; }
}

async function startTaskPage() {
  const taskId = me.taskId;
  const history = await api(`/activity?limit=30&taskId=${encodeURIComponent(taskId)}`);
  history.activities.forEach((a) => taskUpdates.set(`a${a.id}`, { kind: "activity", value: a }));
  const latest = history.activities.find((a) => a.type === "task" && a.data?.task);
  if (latest) applyTask(latest.data.task);
  renderTaskUpdates();

  client.on("task:user_joined", (v) => { if (v.taskId === taskId) { viewers.set(v.userId, v); renderViewers(); } });
  client.on("task:user_left", (v) => { if (v.taskId === taskId) { viewers.delete(v.userId); typists.delete(v.userId); renderViewers(); renderTyping(); } });
  client.on("task:typing", (t) => {
    if (t.taskId !== taskId) return;
    if (t.isTyping) typists.set(t.userId, t.username); else typists.delete(t.userId);
    renderTyping();
  });
  client.on("task:updated", (u) => {
    if (u.taskId !== taskId) return;
    taskUpdates.set(`u${u.timestamp}${u.action}`, { kind: "update", value: u });
    applyTask(u.task);
    renderTaskUpdates();
  });
  client.on("activity:feed", (a) => {
    if (a.taskId === taskId && a.type === "comment") { taskUpdates.set(`a${a.id}`, { kind: "activity", value: a }); renderTaskUpdates(); }
  });
  client.on("connect", () => refreshViewers(taskId)); // after a reconnect, the SDK has re-joined

  const state = await client.joinTask(taskId);
  viewers.clear();
  state.viewingUsers.forEach((v) => viewers.set(v.userId, v));
  state.typingUsers.forEach((id) => typists.set(id, viewers.get(id)?.username || id));
  renderViewers();
  renderTyping();

  const input = $("comment-input");
  input.addEventListener("input", () => client.setTyping(taskId, input.value.trim().length > 0));
  $("comment").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    client.setTyping(taskId, false);
    input.value = "";
    await api("/activity", { method: "POST", body: JSON.stringify({ type: "comment", action: "commented", target: text.slice(0, 500), taskId }) });
  });
  remember(taskId);
}

async function refreshViewers(taskId) {
  const state = await api(`/task/${encodeURIComponent(taskId)}/users`);
  viewers.clear();
  state.viewingUsers.forEach((v) => viewers.set(v.userId, v));
  renderViewers();
}

function remember(taskId) {
  const recent = JSON.parse(localStorage.getItem("devtracker.recentTasks") || "[]").filter((t) => t !== taskId);
  localStorage.setItem("devtracker.recentTasks", JSON.stringify([taskId, ...recent].slice(0, 12)));
}

// --- start ---------------------------------------------------------------------------------------------
document.querySelector(".me .avatar").dataset.initials = initials(me.username);
$("jump").addEventListener("submit", (event) => {
  event.preventDefault();
  const task = $("jump-input").value.trim();
  if (/^[A-Za-z0-9_.:-]{1,128}$/.test(task)) window.location.href = `/tasks/${encodeURIComponent(task)}`;
});
if (me.page === "overview") $("feed-more").addEventListener("click", () => loadFeed(olderCursor));
if (me.page === "overview") client.on("activity:feed", (a) => { activity.set(a.id, a); renderFeed(); });

async function start() {
  const [page, count] = await Promise.all([api("/notifications?limit=30"), api("/notifications/unread-count")]);
  page.notifications.forEach((n) => notifications.set(n.id, n));
  setUnread(count.unreadCount);
  renderBell();
  if (me.page === "overview") await loadFeed();
  try {
    await client.connect();
  } catch (error) {
    if (["TOKEN_EXPIRED", "TOKEN_INVALID"].includes(error.code)) window.location.href = `/signin?next=${encodeURIComponent(location.pathname)}`;
    setConnection("offline", "Offline");
    throw error;
  }
  live = true;
  if (!document.hasFocus()) client.updatePresence("away").catch(() => {});
  if (me.page === "task") await startTaskPage();
  document.body.dataset.ready = "true";
}

start().catch((error) => console.error("dashboard start failed", error));

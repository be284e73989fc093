// Boot: log in, pick the screen, wire the views. Routes: #/chat[/id], #/memory, #/status.
import { api, ApiError, key, Offline } from "./api.js";
import { Chat } from "./chat.js";
import { Memory, showStatus } from "./memory.js";
import { Puller } from "./pull.js";
import { Sidebar } from "./sidebar.js";

const $ = (id) => document.getElementById(id);

function screen(name) {
  for (const id of ["login", "offline", "app"]) $(id).hidden = id !== name;
}

function loginScreen(message) {
  key.clear();
  if (chat.socket) chat.socket.close();
  $("login-error").textContent = message || "";
  $("login-error").hidden = !message;
  screen("login");
  $("login-key").focus();
}

function offlineScreen() {
  $("offline-origin").textContent = location.origin;
  screen("offline");
}

function fail(err) {
  if (err instanceof ApiError && err.status === 401) return loginScreen("That key was not accepted.");
  if (err instanceof Offline) return offlineScreen();
  chat.notice({ code: err.code || "error", message: err.message });
}

const chat = new Chat({
  onSession: (id) => {
    if (location.hash !== `#/chat/${id}`) history.replaceState(null, "", `#/chat/${id}`);
    sidebar.mark(id);
    sidebar.refresh().then(title).catch(fail);
  },
  onUnauthorized: (reason) => loginScreen(`That key was not accepted (${reason || "unauthorized"}).`),
  onOffline: offlineScreen,
});
const sidebar = new Sidebar({ open: (id) => (location.hash = `#/chat/${id}`) });
const memory = new Memory({ fail });
const puller = new Puller({ onPulled: (name) => models(name) });
const PULL = "\u0000pull"; // the picker's "Pull a model…" entry: no model has this name

function title(sessions) {
  const current = sessions.find((s) => s.session_id === chat.sessionId);
  $("session-title").textContent = current ? current.title : "New chat";
  $("rename").hidden = $("delete").hidden = !current;
}

async function route() {
  const [, view = "chat", id] = location.hash.split("/");
  for (const name of ["chat", "memory", "status"]) {
    $(`view-${name}`).hidden = name !== view;
    $(`nav-${name}`).classList.toggle("current", name === view);
  }
  document.body.classList.remove("menu-open");
  try {
    if (view === "memory") return await memory.show();
    if (view === "status") return await showStatus();
    const sessionId = id ? decodeURIComponent(id) : null;
    if (sessionId !== chat.sessionId || !sessionId) {
      if (chat.turn) chat.stop();
      await chat.open(sessionId);
    }
    sidebar.mark(sessionId);
    title(await sidebar.refresh());
    $("input").focus();
  } catch (err) {
    fail(err);
  }
}

// The picker: every model, the server's default (or `chosen`) selected; for admins, one
// more entry that opens "Pull a model…".
async function models(chosen) {
  const data = await api("/api/models");
  const select = $("model");
  const options = data.models.map((m) => {
    const option = document.createElement("option");
    option.value = option.textContent = m.name;
    option.selected = chosen ? m.name === chosen : m.is_default;
    return option;
  });
  if (data.can_pull) {
    const pull = document.createElement("option");
    pull.value = PULL;
    pull.textContent = "Pull a model…";
    options.push(pull);
  }
  select.replaceChildren(...options);
  chat.model = select.value;
}

async function start() {
  if (!key.get()) return loginScreen("");
  try {
    await api("/api/status");
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return loginScreen("That key was not accepted.");
    if (err instanceof Offline) return offlineScreen();
    throw err;
  }
  // The app shows only once its first view is routed: route() opens the session afresh
  // (clearing the message list), which would wipe a message typed while it still loaded.
  screen(null); // a blank moment, instead of a form that would lose what is typed
  await models().catch(fail);
  await route();
  if ($("login").hidden && $("offline").hidden) {
    screen("app"); // unless loading ended on the login or offline screen
    $("input").focus();
  }
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  key.set($("login-key").value.trim());
  $("login-key").value = "";
  start();
});
$("offline-retry").addEventListener("click", start);
$("logout").addEventListener("click", () => loginScreen(""));
$("menu").addEventListener("click", () => document.body.classList.toggle("menu-open"));
$("model").addEventListener("change", () => {
  if ($("model").value !== PULL) return (chat.model = $("model").value);
  $("model").value = chat.model; // the picker keeps showing the model in use
  puller.open();
});
$("new-session").addEventListener("click", () => {
  chat.sessionId = null;
  location.hash = "#/chat";
  route();
});
$("rename").addEventListener("click", async () => {
  const name = prompt("New title", $("session-title").textContent);
  if (!name || !name.trim()) return;
  try {
    await api(`/api/sessions/${encodeURIComponent(chat.sessionId)}`, { method: "PATCH", body: { title: name.trim().slice(0, 500) } });
    title(await sidebar.refresh());
  } catch (err) {
    fail(err);
  }
});
$("delete").addEventListener("click", async () => {
  if (!confirm("Delete this chat and its messages?")) return;
  try {
    await api(`/api/sessions/${encodeURIComponent(chat.sessionId)}`, { method: "DELETE" });
    chat.sessionId = null;
    location.hash = "#/chat";
    await route();
  } catch (err) {
    fail(err);
  }
});
$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value;
  if (!text.trim() || chat.turn) return;
  $("input").value = "";
  chat.submit(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("stop").addEventListener("click", () => chat.stop());
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && chat.turn) chat.stop();
});
$("status-refresh").addEventListener("click", () => showStatus().catch(fail));
window.addEventListener("hashchange", route);
start();

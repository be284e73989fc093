// The chat view: one WebSocket per page, streaming replies, tools, approvals, stop.
import { api, wsUrl } from "./api.js";
import { render } from "./markdown.js";

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function details(summary, body, className) {
  const box = el("details", className);
  box.append(el("summary", "", summary));
  const pre = el("pre", "plain", body);
  box.append(pre);
  return box;
}

const pretty = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

export class Chat {
  constructor({ onSession, onUnauthorized, onOffline }) {
    this.onSession = onSession;
    this.onUnauthorized = onUnauthorized;
    this.onOffline = onOffline;
    this.sessionId = null;
    this.socket = null;
    this.ready = null;
    this.turn = null; // the reply being streamed
    this.lastMessage = null;
    this.boundTo = null; // the session the socket has selected
    this.model = "";
  }

  connect() {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const socket = new WebSocket(wsUrl());
      let connected = false;
      socket.addEventListener("message", (event) => {
        const msg = JSON.parse(event.data);
        if (msg.type === "connected") {
          connected = true;
          this.socket = socket;
          resolve(socket);
          return;
        }
        if (!connected) return; // the 1008 close below carries the verdict
        this.receive(msg);
      });
      socket.addEventListener("close", (event) => {
        this.socket = null;
        this.ready = null;
        this.boundTo = null; // a new connection starts with no session selected
        if (event.code === 1008 && !connected) {
          this.onUnauthorized(event.reason);
          reject(new Error(event.reason || "unauthorized"));
          return;
        }
        if (!connected) reject(new Error("connection failed"));
        if (this.turn) this.fail({ code: "disconnected", message: "connection to roost lost" });
      });
    });
    return this.ready;
  }

  async send(payload) {
    const socket = await this.connect();
    socket.send(JSON.stringify(payload));
  }

  clear() {
    $("messages").replaceChildren();
    $("usage").textContent = "";
  }

  async open(sessionId) {
    this.sessionId = sessionId;
    this.clear();
    if (!sessionId) return null;
    const session = await api(`/api/sessions/${encodeURIComponent(sessionId)}`);
    for (const m of session.messages) this.show(m);
    const last = [...session.messages].reverse().find((m) => m.tokens);
    if (last) this.usage(last.tokens);
    this.scroll();
    return session;
  }

  show(m) {
    if (m.role === "tool" || m.role === "system") return;
    const box = this.bubble(m.role);
    if (m.reasoning) box.prepend(details("Reasoning", m.reasoning, "reasoning"));
    for (const call of m.tool_calls || []) {
      const name = call.name || (call.function && call.function.name) || "tool";
      const args = call.arguments || (call.function && call.function.arguments) || {};
      box.insertBefore(details(`Tool: ${name}`, pretty(args), "tool"), box.querySelector(".body"));
    }
    box.querySelector(".body").append(render(m.content || ""));
    if (m.error) box.append(el("p", "error", m.error));
  }

  bubble(role) {
    const box = el("article", `msg ${role}`);
    box.append(el("div", "who", role === "user" ? "You" : "roost"));
    box.append(el("div", "body"));
    $("messages").append(box);
    return box;
  }

  scroll() {
    const list = $("messages");
    list.scrollTop = list.scrollHeight;
  }

  busy(on) {
    $("send").hidden = on;
    $("stop").hidden = !on;
  }

  async submit(text) {
    if (this.turn || !text.trim()) return;
    this.lastMessage = text;
    const mine = this.bubble("user");
    mine.querySelector(".body").append(render(text));
    this.start();
    try {
      if (!this.sessionId) await this.send({ type: "session" }); // a new chat
      else if (this.boundTo !== this.sessionId) {
        await this.send({ type: "session", session_id: this.sessionId });
      }
      const payload = { type: "chat", message: text };
      if (this.model) payload.model = this.model;
      await this.send(payload);
    } catch (err) {
      this.fail({ code: "unreachable", message: String(err.message || err) });
      this.onOffline();
    }
  }

  start() {
    const box = this.bubble("assistant");
    box.classList.add("streaming");
    this.turn = { box, text: "", reasoning: null, tools: {}, painted: false };
    this.busy(true);
    this.scroll();
  }

  stop() {
    if (this.turn && this.socket) this.socket.send(JSON.stringify({ type: "cancel" }));
  }

  paint() {
    const turn = this.turn;
    if (!turn || turn.painted) return;
    turn.painted = true;
    requestAnimationFrame(() => {
      turn.painted = false;
      turn.box.querySelector(".body").replaceChildren(render(turn.text));
      this.scroll();
    });
  }

  receive(msg) {
    const turn = this.turn;
    switch (msg.type) {
      case "session":
        this.sessionId = msg.session_id;
        this.boundTo = msg.session_id;
        this.onSession(msg.session_id, msg.title);
        return;
      case "content":
        if (!turn) return;
        turn.text += msg.delta;
        this.paint();
        return;
      case "reasoning": {
        if (!turn) return;
        if (!turn.reasoning) {
          turn.reasoning = details("Reasoning", "", "reasoning");
          turn.box.insertBefore(turn.reasoning, turn.box.querySelector(".body"));
        }
        turn.reasoning.querySelector("pre").textContent += msg.delta;
        return;
      }
      case "tool_start": {
        if (!turn) return;
        const box = details(`Tool: ${msg.name}`, pretty(msg.arguments), "tool");
        turn.tools[msg.id] = box;
        turn.box.insertBefore(box, turn.box.querySelector(".body"));
        return;
      }
      case "tool_end": {
        const box = turn && turn.tools[msg.id];
        if (!box) return;
        box.querySelector("summary").textContent = `Tool: ${msg.name}${msg.is_error ? " (failed)" : ""}`;
        box.append(el("div", "muted", "Result"), el("pre", "plain", pretty(msg.output)));
        return;
      }
      case "approval_required":
        if (turn) this.askApproval(msg);
        return;
      case "approval": {
        const box = document.querySelector(`[data-approval="${CSS.escape(msg.id)}"]`);
        if (box) box.querySelector(".state").textContent = msg.approved ? "Approved" : "Denied";
        return;
      }
      case "done":
        this.finish(msg);
        return;
      case "error":
        if (turn) this.fail(msg.error);
        else this.notice(msg.error);
        return;
      default:
    }
  }

  askApproval(msg) {
    const box = el("div", "approval");
    box.dataset.approval = msg.id;
    box.append(el("p", "", `roost wants to run the tool “${msg.name}”:`));
    box.append(el("pre", "plain", pretty(msg.arguments)));
    const yes = el("button", "approve", "Approve");
    const no = el("button", "deny", "Deny");
    const state = el("span", "state muted");
    for (const [button, approve] of [[yes, true], [no, false]]) {
      button.type = "button";
      button.addEventListener("click", () => {
        yes.disabled = no.disabled = true;
        state.textContent = "Sending…";
        this.send({ type: "approve", id: msg.id, approve });
      });
    }
    box.append(yes, no, state);
    this.turn.box.insertBefore(box, this.turn.box.querySelector(".body"));
    this.scroll();
  }

  finish(msg) {
    const turn = this.turn;
    if (!turn) return;
    this.turn = null;
    turn.box.classList.remove("streaming");
    turn.box.querySelector(".body").replaceChildren(render(turn.text));
    if (msg.finish_reason === "cancelled") turn.box.append(el("p", "muted", "Stopped."));
    if (msg.tokens) this.usage(msg.tokens);
    this.busy(false);
    this.onSession(msg.session_id);
    this.scroll();
  }

  fail(error) {
    const turn = this.turn;
    this.turn = null;
    this.busy(false);
    if (!turn) return this.notice(error);
    turn.box.classList.remove("streaming");
    turn.box.querySelector(".body").replaceChildren(render(turn.text));
    const line = el("div", "error");
    line.append(el("span", "", `${error.message} (${error.code})`));
    const retry = el("button", "retry", "Retry");
    retry.type = "button";
    retry.addEventListener("click", () => {
      line.remove();
      if (this.lastMessage) this.submit(this.lastMessage);
    });
    line.append(retry);
    turn.box.append(line);
    this.scroll();
  }

  notice(error) {
    const line = el("p", "error", `${error.message} (${error.code})`);
    $("messages").append(line);
    this.scroll();
  }

  usage(tokens) {
    $("usage").textContent =
      `Tokens: ${tokens.prompt} prompt · ${tokens.completion} completion · ${tokens.total} total`;
  }
}

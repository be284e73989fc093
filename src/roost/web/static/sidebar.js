// Sessions: list, create, rename, delete, and full-text search over messages.
import { api } from "./api.js";

const $ = (id) => document.getElementById(id);

function item(text, sub, onClick) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "item";
  const title = document.createElement("span");
  title.textContent = text;
  button.append(title);
  if (sub) {
    const small = document.createElement("small");
    small.append(...sub);
    button.append(small);
  }
  button.addEventListener("click", onClick);
  li.append(button);
  return li;
}

// The query's words marked in `text`, built as nodes: never HTML from the server.
export function highlight(text, query) {
  const words = (query.match(/[\p{L}\p{N}_]+/gu) || []).map((w) => w.toLowerCase());
  if (!words.length) return [document.createTextNode(text)];
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const pattern = new RegExp(`(${escaped.join("|")})`, "giu");
  return text.split(pattern).map((part, i) => {
    if (i % 2 === 0) return document.createTextNode(part);
    const mark = document.createElement("mark");
    mark.textContent = part;
    return mark;
  });
}

export class Sidebar {
  constructor({ open }) {
    this.open = open;
    this.current = null;
    this.timer = null;
    $("search").addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search($("search").value), 250);
    });
  }

  async refresh() {
    const data = await api("/api/sessions?limit=200");
    const list = $("sessions");
    list.replaceChildren(
      ...data.sessions.map((s) => {
        const li = item(s.title, [`${s.message_count} messages`], () => this.open(s.session_id));
        li.dataset.session = s.session_id;
        if (s.session_id === this.current) li.classList.add("current");
        return li;
      }),
    );
    return data.sessions;
  }

  mark(sessionId) {
    this.current = sessionId;
    for (const li of $("sessions").children) {
      li.classList.toggle("current", li.dataset.session === sessionId);
    }
  }

  async search(query) {
    const results = $("search-results");
    if (!query.trim()) {
      results.hidden = true;
      results.replaceChildren();
      return;
    }
    try {
      const data = await api(`/api/search?q=${encodeURIComponent(query)}&limit=30`);
      results.replaceChildren(
        ...data.results.map((hit) =>
          item(hit.title, highlight(hit.snippet, query), () => this.open(hit.session_id)),
        ),
      );
      if (!data.results.length) results.append(Object.assign(document.createElement("li"), { className: "muted", textContent: "No messages match." }));
    } catch (err) {
      results.replaceChildren(Object.assign(document.createElement("li"), { className: "error", textContent: err.message }));
    }
    results.hidden = false;
  }
}

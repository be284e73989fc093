// Memory pages: workspace search with highlighted hits, a file at a hit's lines,
// editing MEMORY.md and HEARTBEAT.md, and the index's numbers.
import { api } from "./api.js";
import { highlight } from "./sidebar.js";

const $ = (id) => document.getElementById(id);
const filePath = (name) => `/api/memory/files/${name.split("/").map(encodeURIComponent).join("/")}`;

function facts(list, pairs) {
  list.replaceChildren();
  for (const [name, value] of pairs) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "—" : String(value);
    list.append(dt, dd);
  }
}

export class Memory {
  constructor({ fail }) {
    this.fail = fail;
    $("memory-search-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.search($("memory-q").value).catch(fail);
    });
    for (const button of document.querySelectorAll("button.edit")) {
      button.addEventListener("click", () => this.edit(button.dataset.file).catch(fail));
    }
    $("editor").addEventListener("submit", (e) => {
      e.preventDefault();
      this.save().catch((err) => ($("editor-state").textContent = `Not saved: ${err.message}`));
    });
  }

  async show() {
    const s = await api("/api/memory/stats");
    facts($("memory-stats"), [
      ["Workspace", s.workspace],
      ["Files", s.files.total],
      ["Chunks", s.index.chunks],
      ["Last indexed", s.index.last_indexed],
      ["Database size", `${s.index.database_size_bytes} bytes`],
    ]);
  }

  async search(query) {
    const list = $("memory-hits");
    list.replaceChildren();
    if (!query.trim()) return;
    const data = await api(`/api/memory/search?q=${encodeURIComponent(query)}&limit=20`);
    for (const hit of data.results) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "item hit";
      const head = document.createElement("span");
      head.textContent = `${hit.file}:${hit.line_start}-${hit.line_end}`;
      const body = document.createElement("small");
      body.append(...highlight(hit.content, query));
      button.append(head, body);
      button.addEventListener("click", () => this.openAt(hit, query).catch(this.fail));
      li.append(button);
      list.append(li);
    }
    if (!data.results.length) list.append(Object.assign(document.createElement("li"), { className: "muted", textContent: "Nothing found." }));
  }

  async openAt(hit, query) {
    const text = await api(filePath(hit.file), { text: true });
    $("memory-file-name").textContent = `${hit.file} (lines ${hit.line_start}-${hit.line_end})`;
    const pre = $("memory-file-text");
    pre.replaceChildren();
    let target = null;
    text.split("\n").forEach((line, i) => {
      const row = document.createElement("span");
      row.className = "line";
      row.dataset.line = String(i + 1);
      if (i + 1 >= hit.line_start && i + 1 <= hit.line_end) {
        row.classList.add("hit");
        row.append(...highlight(line, query));
        target = target || row;
      } else row.textContent = line;
      pre.append(row, "\n");
    });
    $("memory-file").hidden = false;
    if (target) target.scrollIntoView({ block: "center" });
  }

  async edit(name) {
    let text = "";
    try {
      text = await api(filePath(name), { text: true });
    } catch (err) {
      if (err.status !== 404) throw err; // a missing file starts empty
    }
    this.editing = name;
    $("editor-name").textContent = name;
    $("editor-text").value = text;
    $("editor-state").textContent = "";
    $("editor").hidden = false;
    $("editor-text").focus();
  }

  async save() {
    $("editor-state").textContent = "Saving…";
    await api(filePath(this.editing), { method: "PUT", body: { content: $("editor-text").value } });
    $("editor-state").textContent = "Saved.";
    await this.show();
  }
}

export async function showStatus() {
  const [s, hb, queue] = await Promise.all([
    api("/api/status"),
    api("/api/heartbeat/status"),
    api("/api/queue?limit=1000"),
  ]);
  facts($("status"), [
    ["Model", s.model],
    ["Version", s.version],
    ["Uptime", `${s.uptime_seconds} s`],
    ["Memory search", s.memory.search],
    ["Files indexed", s.memory.files_indexed],
    ["Heartbeat", hb.enabled ? `every ${hb.interval_seconds} s` : "disabled"],
    ["Heartbeat last run", hb.last_run],
    ["Heartbeat next run", hb.next_run],
    ["Queue depth", queue.messages.length],
  ]);
}

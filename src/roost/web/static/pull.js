// "Pull a model…" (admins): POST /api/models/pull, its NDJSON progress lines shown as a
// bar with bytes and speed. Cancel aborts the request; the server then cancels the pull.
import { send } from "./api.js";

const $ = (id) => document.getElementById(id);
const SPEED_WINDOW_MS = 3000;

export function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// Each line of an NDJSON body, parsed, as it arrives.
async function* lines(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    pending += decoder.decode(value || new Uint8Array(), { stream: !done });
    const parts = pending.split("\n");
    pending = parts.pop();
    for (const part of parts) if (part.trim()) yield JSON.parse(part);
    if (done) break;
  }
  if (pending.trim()) yield JSON.parse(pending);
}

export class Puller {
  constructor({ onPulled }) {
    this.onPulled = onPulled; // (name) => the picker lists and selects it
    this.abort = null;
    this.samples = []; // [time, bytes] of the file being downloaded, for its speed
    this.digest = null;
    $("pull-form").addEventListener("submit", (e) => {
      e.preventDefault();
      if (!this.abort) this.pull($("pull-name").value.trim());
    });
    $("pull-cancel").addEventListener("click", () => this.cancel());
    $("pull-close").addEventListener("click", () => this.close());
    $("pull").addEventListener("cancel", () => this.cancel()); // Esc
  }

  open() {
    this.show("", "");
    $("pull-bar").hidden = true;
    $("pull").showModal();
    $("pull-name").focus();
  }

  close() {
    this.cancel();
    $("pull").close();
  }

  cancel() {
    if (this.abort) this.abort.abort();
  }

  show(state, error) {
    $("pull-state").textContent = state;
    $("pull-error").textContent = error;
    $("pull-error").hidden = !error;
  }

  busy(on) {
    this.abort = on ? new AbortController() : null;
    $("pull-start").disabled = $("pull-name").disabled = on;
    $("pull-cancel").hidden = !on;
  }

  async pull(name) {
    if (!name) return;
    this.busy(true);
    this.samples = [];
    this.show("Asking the Hub…", "");
    try {
      const response = await send("/api/models/pull", {
        method: "POST",
        body: { model: name, stream: true },
        signal: this.abort.signal,
      });
      for await (const line of lines(response)) {
        if (line.error) return this.show("", line.error);
        if (line.status === "success") {
          this.show(`Pulled ${line.name || name}`, "");
          await this.onPulled(line.name || name);
          $("pull").close();
          return;
        }
        this.progress(line);
      }
      this.show("", "The pull ended without saying it succeeded.");
    } catch (err) {
      if (err.name === "AbortError") this.show("Cancelled. Pulling again resumes where it stopped.", "");
      else this.show("", err.message);
    } finally {
      this.busy(false);
    }
  }

  progress(line) {
    const bar = $("pull-bar");
    if (line.total === undefined || line.completed === undefined) {
      this.show(line.status, "");
      return;
    }
    bar.hidden = false;
    bar.max = line.total || 1;
    bar.value = line.completed;
    const now = performance.now();
    if (line.digest !== this.digest) this.samples = []; // the next part of a split GGUF
    this.digest = line.digest;
    this.samples.push([now, line.completed]);
    while (this.samples.length > 2 && now - this.samples[0][0] > SPEED_WINDOW_MS) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now > t0 ? ((line.completed - b0) * 1000) / (now - t0) : 0;
    const rate = speed > 0 ? ` · ${bytes(speed)}/s` : "";
    this.show(`${bytes(line.completed)} / ${bytes(line.total)}${rate}`, "");
  }
}

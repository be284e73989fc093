// A small markdown subset rendered straight into DOM nodes. Text only ever reaches the
// page through textContent / createTextNode, never an HTML parser, so model or file content
// that contains HTML or <script> shows as the characters it is and never runs.
// Subset: fenced code (with a copy button), headings, lists, quotes, paragraphs,
// `code`, **bold**, *italic*, and http(s) links.

const MAX_CHARS = 200_000; // a runaway reply renders as plain text past this

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\s][^*\n]*\*)|(\[[^\]\n]{1,500}\]\((https?:\/\/[^\s)]{1,2000})\))/g;

export function inline(text, parent) {
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) parent.append(document.createTextNode(text.slice(at, m.index)));
    const s = m[0];
    if (m[1]) parent.append(el("code", "", s.slice(1, -1)));
    else if (m[2]) parent.append(el("strong", "", s.slice(2, -2)));
    else if (m[3]) parent.append(el("em", "", s.slice(1, -1)));
    else {
      const a = el("a", "", s.slice(1, s.indexOf("](")));
      a.href = m[5]; // only http(s): the pattern admits no javascript: or data: URL
      a.rel = "noopener noreferrer nofollow";
      a.target = "_blank";
      parent.append(a);
    }
    at = m.index + s.length;
  }
  if (at < text.length) parent.append(document.createTextNode(text.slice(at)));
  return parent;
}

function codeBlock(lang, code) {
  const wrap = el("div", "code");
  const bar = el("div", "code-bar");
  bar.append(el("span", "muted", lang || "code"));
  const copy = el("button", "copy", "Copy");
  copy.type = "button";
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code);
      copy.textContent = "Copied";
    } catch {
      copy.textContent = "Copy failed";
    }
    setTimeout(() => (copy.textContent = "Copy"), 1500);
  });
  bar.append(copy);
  const pre = el("pre");
  pre.append(el("code", "", code));
  wrap.append(bar, pre);
  return wrap;
}

function blocks(lines, out) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*```\s*([\w+-]{0,30})/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !/^\s*```\s*$/.test(lines[i])) body.push(lines[i++]);
      i++; // the closing fence (or the end of a still-streaming reply)
      out.append(codeBlock(fence[1], body.join("\n")));
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      out.append(inline(heading[2], el("h" + Math.min(heading[1].length + 2, 6))));
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d{1,9}[.)])\s+/;
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = el(ordered ? "ol" : "ul");
      while (i < lines.length && item.test(lines[i])) {
        list.append(inline(lines[i].replace(item, ""), el("li")));
        i++;
      }
      out.append(list);
      continue;
    }
    if (/^>\s?/.test(line)) {
      const quoted = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ""));
      out.append(inline(quoted.join("\n"), el("blockquote")));
      continue;
    }
    const para = [];
    while (i < lines.length && lines[i].trim() && !/^\s*```|^#{1,6}\s|^>|^\s*([-*+]|\d{1,9}[.)])\s+/.test(lines[i])) {
      para.push(lines[i++]);
    }
    if (!para.length) para.push(lines[i++]);
    out.append(inline(para.join("\n"), el("p")));
  }
  return out;
}

export function render(text) {
  const out = document.createDocumentFragment();
  if (text.length > MAX_CHARS) {
    out.append(el("pre", "plain", text));
    return out;
  }
  return blocks(text.split("\n"), out);
}

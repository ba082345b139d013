// The report page: reads the gzip+base64 JSON in #evalscope-data and draws every view with DOM calls.
// Every string from a run is inserted as text (textContent / text nodes), never parsed as HTML.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const ROW = 28;
const STATUS_FILTERS = ["all", "passed", "failed", "error", "unparsed", "truncated"];

function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
}

function sv(tag, attrs, ...kids) {
  const node = document.createElementNS(SVGNS, tag);
  setAttrs(node, attrs);
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key === "cls" ? "class" : key, value === true ? "" : String(value));
  }
}

const fmt = (v, d = 4) => (v === null || v === undefined ? "–" : typeof v === "number" ? (Number.isInteger(v) ? v.toLocaleString("en") : v.toFixed(d)) : String(v));
const ci = (c) => (c ? `[${fmt(c[0])}, ${fmt(c[1])}]` : "–");
const msgText = (data, m) => (m[2] >= 0 ? data.prefixes[m[2]] : "") + m[1];
const badge = (kind, text) => el("span", { cls: `badge b-${kind}` }, text || kind);

async function decode() {
  const text = document.getElementById("evalscope-data").textContent.trim();
  let bytes;
  if (typeof Uint8Array.fromBase64 === "function") bytes = Uint8Array.fromBase64(text);
  else {
    const bin = atob(text);
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  }
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

// ------------------------------------------------------------------ header and gates

function header(data) {
  const cards = data.runs.map((run, i) => el("div", { cls: "card" },
    el("h3", null, data.runs.length > 1 ? `Run ${i + 1}: ` : "", run.model || "(model unknown)"),
    el("dl", { cls: "kv" },
      [["endpoint", run.endpoint], ["run", run.id], ["folder", run.path], ["date", run.date],
       ["duration", run.duration_s === null || run.duration_s === undefined ? null : `${fmt(run.duration_s, 1)} s`],
       ["written by", run.source],
       ["versions", Object.entries(run.versions || {}).map(([k, v]) => `${k} ${v}`).join(", ") || null]]
        .filter(([, v]) => v !== null && v !== undefined && v !== "")
        .map(([k, v]) => [el("dt", null, k), el("dd", null, v)])),
    run.config ? el("details", null, el("summary", null, "Resolved config"), el("pre", null, run.config)) : null,
    run.cut ? el("p", { cls: "notice", id: i === 0 ? "cut-notice" : null },
      `This run is large (${fmt(run.cut.samples)} samples, ${fmt(run.cut.chars)} characters of text): ${fmt(run.cut.fields)} long fields are cut to ${fmt(run.cut.cap)} characters in this page. The full text is in the jsonl files beside it (each cut names its file and line).`) : null));
  return el("header", { id: "header" },
    el("h1", null, data.runs.every((r) => r.kind === "perf") ? "Perf report" : "Evaluation report"),
    el("p", { cls: "muted" }, `${data.generator}, written ${data.generated}. This file is self-contained: it loads nothing.`),
    el("div", { cls: "cards" }, cards));
}

function gatesPanel(data) {
  const panel = el("section", { id: "gates" }, el("h2", null, "Gates"));
  data.runs.forEach((run, i) => {
    const failing = run.exitstatus !== null && run.exitstatus !== undefined && run.exitstatus !== 0;
    const known = run.exitstatus !== null && run.exitstatus !== undefined;
    if (data.runs.length > 1) panel.append(el("h3", null, `Run ${i + 1}: ${run.id}`));
    panel.append(el("p", { cls: `reason ${failing ? "fail" : known ? "" : "unknown"}`, id: i === 0 ? "exit-reason" : null }, run.reason));
    if (!run.gates.length) { panel.append(el("p", { cls: "muted" }, "No threshold or regression check was set for this run.")); return; }
    panel.append(el("table", { cls: "gates" },
      el("tr", null, ["gate", "kind", "verdict", "estimate", "95% interval", "n", "threshold", "detail"].map((h) => el("th", null, h))),
      run.gates.map((g) => el("tr", { cls: `gate ${g.verdict}`, "data-gate": g.name },
        el("td", null, el("b", null, g.name)), el("td", null, g.kind),
        el("td", null, badge(g.verdict === "met" ? "met" : g.verdict === "missed" ? "missed" : "inconclusive", g.verdict)),
        el("td", { cls: "num" }, fmt(g.estimate)), el("td", null, ci(g.interval), intervalBar(g.interval, g.estimate, g.threshold)),
        el("td", { cls: "num" }, fmt(g.n)), el("td", { cls: "num" }, fmt(g.threshold)), el("td", { cls: "muted" }, g.text || "")))));
  });
  return panel;
}

function intervalBar(interval, score, threshold) {
  const W = 150, H = 14, x = (v) => 4 + Math.max(0, Math.min(1, v)) * (W - 8);
  if (score === null || score === undefined || typeof score !== "number" || score > 1 || score < 0) return null;
  return sv("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, style: "vertical-align:middle;margin-left:6px", role: "img" },
    sv("line", { x1: 4, x2: W - 4, y1: H / 2, y2: H / 2, stroke: "#d0d7de" }),
    interval ? sv("rect", { x: x(interval[0]), y: 3, width: Math.max(1, x(interval[1]) - x(interval[0])), height: H - 6, fill: "#54aeff", opacity: 0.6 }) : null,
    typeof threshold === "number" ? sv("line", { x1: x(threshold), x2: x(threshold), y1: 0, y2: H, stroke: "#cf222e", "stroke-width": 2 }) : null,
    sv("circle", { cx: x(score), cy: H / 2, r: 3.5, fill: "#0969da" }),
    sv("title", null, `score ${fmt(score)} ${interval ? "interval " + ci(interval) : ""}${typeof threshold === "number" ? " threshold " + threshold : ""}`));
}

// ------------------------------------------------------------------ scoreboard

function scoreboard(data) {
  const section = el("section", { id: "scoreboard" }, el("h2", null, "Scores"));
  const cols = ["benchmark / category / subset", "metric", "score", "95% interval", "n", "unparsed", "truncated", "errors", "judge errors", "tokens in", "tokens out", "latency mean (s)"];
  data.runs.forEach((run, i) => {
    if (!run.scoreboard.length) return;
    const thresholds = Object.fromEntries(run.gates.filter((g) => typeof g.threshold === "number").map((g) => [g.name, g.threshold]));
    if (data.runs.length > 1) section.append(el("h3", null, `Run ${i + 1}: ${run.model} ${run.id}`));
    const rows = [];
    for (const b of run.scoreboard) {
      const subs = b.categories.flatMap((c) => c.subsets);
      const sum = (k) => subs.reduce((a, s) => a + (s[k] || 0), 0);
      rows.push(line("suite", b.pretty + (b.pretty !== b.suite ? ` (${b.suite})` : ""), b.metric, b.score, b.ci95, b.num,
        [sum("unparsed"), sum("truncated"), sum("errors"), sum("judge_errors"), sum("tokens_in"), sum("tokens_out"), null], thresholds[b.suite]));
      for (const c of b.categories) {
        if (b.categories.length > 1) rows.push(line("cat", c.name, "", c.score, null, c.num, [], undefined));
        for (const s of c.subsets) {
          rows.push(line("sub", s.name, "", s.score, s.ci95, s.num,
            [s.unparsed, s.truncated, s.errors, s.judge_errors, s.tokens_in, s.tokens_out, s.latency_mean], thresholds[`${b.suite}/${s.name}`], `${b.suite}/${s.name}`));
        }
      }
    }
    section.append(el("table", { cls: "scores" }, el("tr", null, cols.map((h, k) => el("th", { cls: k > 1 ? "num" : null }, h))), rows));
  });
  return section;

  function line(kind, name, metric, score, interval, n, counts, threshold, key) {
    return el("tr", { cls: kind, "data-key": key || null },
      el("td", null, name), el("td", { cls: "muted" }, metric || ""), el("td", { cls: "num" }, fmt(score)),
      el("td", { cls: "num" }, ci(interval), intervalBar(interval, score, threshold)), el("td", { cls: "num" }, fmt(n)),
      counts.map((v) => el("td", { cls: "num" }, v === undefined ? "" : fmt(v, 2))));
  }
}

// ------------------------------------------------------------------ sample explorer

class Explorer {
  constructor(data) {
    this.data = data;
    this.names = data.names;
    this.runIndex = 0;
    this.filter = "all";
    this.search = null;
    this.selected = -1;
    this.node = el("section", { id: "explorer" }, el("h2", null, "Samples"));
    this.build();
  }

  get run() { return this.data.runs[this.runIndex]; }
  get s() { return this.run.samples; }

  build() {
    const filters = [...STATUS_FILTERS];
    if (this.data.baseline) filters.push("flipped", "regressed", "fixed");
    this.buttons = filters.map((f) => el("button", { "data-filter": f, onclick: () => this.setFilter(f) }, f));
    this.searchBox = el("input", { type: "search", id: "search", placeholder: "regex over reply, prompt, target, answer…",
      oninput: () => { clearTimeout(this.timer); this.timer = setTimeout(() => this.setSearch(this.searchBox.value), 180); } });
    this.count = el("span", { id: "count", cls: "muted" });
    const runPick = this.data.runs.length > 1 ? el("select", { id: "run-select", onchange: (e) => this.setRun(+e.target.value) },
      this.data.runs.map((r, i) => el("option", { value: i }, `run ${i + 1}: ${r.model} ${r.id}`))) : null;
    this.rows = el("div", { id: "rows", onscroll: () => this.schedule() });
    this.spacer = el("div", { style: "position:relative" });
    this.rows.append(this.spacer);
    this.detail = el("div", { id: "detail" }, el("p", { cls: "muted" }, "Pick a sample to see its conversation, answer and score."));
    this.node.append(el("div", { cls: "controls" }, runPick, this.buttons, this.searchBox, this.count),
      el("div", { cls: "explorer" },
        el("div", { cls: "list" }, el("div", { cls: "head" }, ["status", "sample", "score", "answer", "target", "reply"].map((h) => el("span", null, h))), this.rows),
        this.detail));
    this.reindex();
  }

  reindex() {
    const s = this.s;
    this.groups = new Map();
    for (let i = 0; i < s.index.length; i++) {
      const key = `${this.names[s.suite[i]]}/${this.names[s.subset[i]]}/${s.index[i]}`;
      if (!this.groups.has(key)) this.groups.set(key, []);
      this.groups.get(key).push(i);
    }
    this.apply();
  }

  setRun(i) { this.runIndex = i; this.selected = -1; this.reindex(); }
  setFilter(f) { this.filter = f; this.apply(); }
  setSearch(text) {
    this.searchBox.classList.remove("invalid");
    if (!text) this.search = null;
    else {
      try { this.search = new RegExp(text, "i"); } catch (e) { this.searchBox.classList.add("invalid"); return; }
    }
    this.apply();
  }

  keep(i) {
    const s = this.s, st = s.status[i];
    switch (this.filter) {
      case "passed": if (st !== "correct") return false; break;
      case "failed": if (st !== "wrong") return false; break;
      case "error": if (st !== "error") return false; break;
      case "unparsed": if (!s.unparsed[i]) return false; break;
      case "truncated": if (!s.truncated[i]) return false; break;
      case "flipped": if (!s.flip || (s.flip[i] !== "regressed" && s.flip[i] !== "fixed")) return false; break;
      case "regressed": case "fixed": if (!s.flip || s.flip[i] !== this.filter) return false; break;
    }
    if (this.search) {
      const re = this.search, prompt = s.prompt[i], last = prompt.length ? prompt[prompt.length - 1] : null;
      // the prompt's shared beginning (few-shot examples) is searched apart from the sample's own text
      const fields = [s.reply[i], s.extracted[i], s.target[i], s.explanation[i], s.error[i], s.reasoning[i],
        `${this.names[s.suite[i]]}/${this.names[s.subset[i]]}/${s.index[i]}`, last ? last[1] : "", last && last[2] >= 0 ? this.data.prefixes[last[2]] : ""];
      if (!fields.some((f) => f && re.test(f))) return false;
    }
    return true;
  }

  apply() {
    const n = this.s.index.length, view = [];
    for (let i = 0; i < n; i++) if (this.keep(i)) view.push(i);
    this.view = view;
    for (const b of this.buttons) b.classList.toggle("on", b.dataset.filter === this.filter);
    this.count.textContent = `showing ${view.length.toLocaleString("en")} of ${n.toLocaleString("en")} samples`;
    this.spacer.style.height = `${view.length * ROW}px`;
    this.rows.scrollTop = 0;
    this.paint();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.paint(); });
  }

  paint() {
    const s = this.s, top = this.rows.scrollTop, height = this.rows.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW) - 10), last = Math.min(this.view.length, Math.ceil((top + height) / ROW) + 10);
    const nodes = [];
    for (let k = first; k < last; k++) {
      const i = this.view[k];
      const reply = (s.reply[i] || s.error[i] || "").slice(0, 200).replace(/\s+/g, " ");
      nodes.push(el("div", { cls: `row${i === this.selected ? " sel" : ""}`, style: `top:${k * ROW}px`, "data-i": i, "data-id": this.id(i), onclick: () => this.select(i, true) },
        el("span", null, statusBadges(s, i)), el("span", { cls: "mono" }, this.id(i, true)), el("span", { cls: "num" }, fmt(s.score[i], 2)),
        el("span", { cls: "mono" }, s.extracted[i] === null ? "–" : s.extracted[i]), el("span", { cls: "mono" }, s.target[i]), el("span", null, reply)));
    }
    this.spacer.replaceChildren(...nodes);
  }

  id(i, withRepeat) {
    const s = this.s;
    return `${this.names[s.suite[i]]}/${this.names[s.subset[i]]}/${s.index[i]}` + (withRepeat && s.repeat[i] ? ` #${s.repeat[i]}` : "");
  }

  select(i, setHash) {
    this.selected = i;
    if (setHash) history.replaceState(null, "", `#s=${this.id(i).split("/").map(encodeURIComponent).join("/")}`);
    this.paint();
    this.detail.replaceChildren(sampleDetail(this.data, this.runIndex, this.id(i), this.groups));
  }

  open(id) {
    const group = this.groups.get(id);
    if (!group) { this.detail.replaceChildren(el("p", { cls: "notice" }, `No sample ${id} in this run.`)); return false; }
    if (!this.view.includes(group[0])) { this.filter = "all"; this.searchBox.value = ""; this.search = null; this.apply(); }
    const k = this.view.indexOf(group[0]);
    this.rows.scrollTop = Math.max(0, k * ROW - 3 * ROW);
    this.select(group[0], false);
    this.node.scrollIntoView();
    return true;
  }
}

function statusBadges(s, i) {
  const out = [badge(s.status[i])];
  if (s.unparsed[i]) out.push(" ", badge("unparsed", "unp"));
  if (s.truncated[i]) out.push(" ", badge("truncated", "len"));
  return out;
}

function field(label, value, cls) {
  if (value === null || value === undefined || value === "") return null;
  return el("div", { cls: cls || null }, el("b", null, label), el("pre", null, typeof value === "string" ? value : JSON.stringify(value, null, 2)));
}

function attempt(data, run, i, label) {
  const s = run.samples;
  const prompt = s.prompt[i];
  const values = s.values[i] || {};
  return el("div", { cls: "attempt", "data-i": i },
    el("div", null, el("b", null, label), " ", statusBadges(s, i), s.flip ? [" ", badge(s.flip[i], s.flip[i])] : null),
    el("div", { cls: "muted" }, Object.entries(values).map(([k, v]) => `${k} ${fmt(v)}`).join(" · "),
      s.latency[i] !== null ? ` · ${fmt(s.latency[i], 2)} s` : "", s.tokens_in[i] !== null ? ` · ${fmt(s.tokens_in[i])} → ${fmt(s.tokens_out[i])} tokens` : ""),
    el("div", { cls: "pair" },
      el("div", null, el("b", null, "extracted answer"), el("pre", { cls: "extracted" }, s.extracted[i] === null ? "(none)" : s.extracted[i])),
      el("div", null, el("b", null, "target"), el("pre", { cls: "target" }, s.target[i]))),
    field("error", s.error[i]),
    field("scorer's explanation / sandbox output", s.explanation[i]),
    s.judge[i] ? field("judge", s.judge[i], "judge") : null,
    s.reasoning[i] ? el("details", null, el("summary", null, `reasoning (${s.reasoning[i].length.toLocaleString("en")} characters)`), el("pre", null, s.reasoning[i])) : null,
    el("details", { open: prompt.length <= 2 }, el("summary", null, `prompt (${prompt.length} message${prompt.length === 1 ? "" : "s"})`),
      prompt.map((m) => el("div", { cls: "msg" }, el("div", { cls: "role" }, m[0]), el("pre", null, msgText(data, m))))),
    el("div", { cls: "msg" }, el("div", { cls: "role" }, "assistant (reply)"), el("pre", { cls: "reply" }, s.reply[i])),
    s.flip && s.flip[i] !== "new" ? baselineAttempt(data, s, i) : null,
    el("div", { cls: "muted" }, `${s.file[i]}, line ${s.line[i]}`));
}

function baselineAttempt(data, s, i) {
  const before = s.base_reply[i] === null ? s.reply[i] : s.base_reply[i];
  return el("div", { cls: "baseline-attempt" },
    el("b", null, `baseline ${data.baseline.id}: `), badge(s.base_status[i]), ` answer ${s.base_extracted[i] === null ? "(none)" : s.base_extracted[i]}`,
    s.base_reply[i] === null ? el("p", { cls: "muted" }, "Same reply as the baseline.") : el("pre", { cls: "diff" }, diffNodes(before, s.reply[i])));
}

function sampleDetail(data, runIndex, id, groups) {
  const run = data.runs[runIndex];
  const items = (groups.get(id) || []).map((i) => [run, i, `attempt ${run.samples.repeat[i] + 1}` + (data.runs.length > 1 ? ` (run ${runIndex + 1})` : "")]);
  data.runs.forEach((other, r) => {  // the same sample in the other runs, side by side
    if (r === runIndex) return;
    const s = other.samples;
    for (let i = 0; i < s.index.length; i++) {
      if (`${data.names[s.suite[i]]}/${data.names[s.subset[i]]}/${s.index[i]}` === id) items.push([other, i, `attempt ${s.repeat[i] + 1} (run ${r + 1}: ${other.id})`]);
    }
  });
  const href = `#s=${id.split("/").map(encodeURIComponent).join("/")}`;
  return el("div", { id: "sample", "data-id": id },
    el("h3", null, id, " ", el("a", { href, title: "permalink to this sample" }, "permalink")),
    el("div", { cls: "attempts", style: `grid-template-columns:repeat(${Math.min(items.length, 3)},minmax(0,1fr))` },
      items.map(([r, i, label]) => attempt(data, r, i, label))));
}

// ------------------------------------------------------------------ text diff

function diffParts(a, b) {
  const A = a.match(/\s+|[^\s]+/g) || [], B = b.match(/\s+|[^\s]+/g) || [];
  let p = 0;
  while (p < A.length && p < B.length && A[p] === B[p]) p++;
  let q = 0;
  while (q < A.length - p && q < B.length - p && A[A.length - 1 - q] === B[B.length - 1 - q]) q++;
  const a2 = A.slice(p, A.length - q), b2 = B.slice(p, B.length - q), out = [];
  if (p) out.push(["=", A.slice(0, p).join("")]);
  const n = a2.length, m = b2.length;
  if (n * m > 4e6) out.push(["-", a2.join("")], ["+", b2.join("")]);
  else {
    const L = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--)
      L[i * (m + 1) + j] = a2[i] === b2[j] ? L[(i + 1) * (m + 1) + j + 1] + 1 : Math.max(L[(i + 1) * (m + 1) + j], L[i * (m + 1) + j + 1]);
    let i = 0, j = 0;
    const push = (op, t) => { const last = out[out.length - 1]; if (last && last[0] === op) last[1] += t; else out.push([op, t]); };
    while (i < n && j < m) {
      if (a2[i] === b2[j]) { push("=", a2[i]); i++; j++; }
      else if (L[(i + 1) * (m + 1) + j] >= L[i * (m + 1) + j + 1]) push("-", a2[i++]);
      else push("+", b2[j++]);
    }
    while (i < n) push("-", a2[i++]);
    while (j < m) push("+", b2[j++]);
  }
  if (q) out.push(["=", A.slice(A.length - q).join("")]);
  return out;
}

function diffNodes(a, b) {
  return diffParts(a || "", b || "").map(([op, t]) => (op === "=" ? document.createTextNode(t) : el("span", { cls: op === "-" ? "del" : "ins" }, t)));
}

// ------------------------------------------------------------------ baseline

function baselinePanel(data, explorer) {
  const base = data.baseline, run = data.runs[0], s = run.samples;
  const section = el("section", { id: "baseline" }, el("h2", null, `Against the baseline ${base.id}`),
    el("p", null, `Aligned by (benchmark, subset, index, repeat) with ${base.model || "the baseline"} in ${base.path}: `,
      ["regressed", "fixed", "failing", "unchanged", "new"].map((k) => [badge(k, `${k} ${base.counts[k] || 0}`), " "]),
      el("span", { cls: "muted" }, "(failing: wrong in both; new: not in the baseline)")));
  const groups = { regressed: [], fixed: [], failing: [], unchanged: [] };
  for (let i = 0; i < s.index.length; i++) if (groups[s.flip[i]]) groups[s.flip[i]].push(i);
  const list = el("div", { id: "flips" });
  const tabs = Object.keys(groups).map((k) => el("button", { "data-flip": k, onclick: () => show(k) }, `${k} (${groups[k].length})`));
  section.append(el("div", { cls: "controls" }, tabs), list);
  show("regressed");
  return section;

  function show(kind, limit = 50) {
    for (const t of tabs) t.classList.toggle("on", t.dataset.flip === kind);
    const idx = groups[kind];
    list.replaceChildren(...idx.slice(0, limit).map((i) => {
      const id = explorer.id(i), before = s.base_reply[i] === null ? s.reply[i] : s.base_reply[i];
      return el("div", { cls: `flip ${kind}`, "data-id": id },
        el("div", null, el("a", { href: `#s=${id.split("/").map(encodeURIComponent).join("/")}` }, explorer.id(i, true)), " ",
          badge(s.base_status[i]), " → ", badge(s.status[i]), el("span", { cls: "muted" }, ` answer ${s.base_extracted[i] ?? "(none)"} → ${s.extracted[i] ?? "(none)"}, target ${s.target[i]}`)),
        el("div", { cls: "pair" },
          el("div", null, el("b", null, "baseline reply"), el("pre", null, before)),
          el("div", null, el("b", null, "this run's reply"), el("pre", null, s.reply[i] || s.error[i] || ""))),
        el("div", null, el("b", null, "diff"), s.base_reply[i] === null ? el("p", { cls: "muted" }, "identical replies") : el("pre", { cls: "diff" }, diffNodes(before, s.reply[i]))));
    }));
    if (!idx.length) list.append(el("p", { cls: "muted" }, `No ${kind} samples.`));
    if (idx.length > limit) list.append(el("button", { onclick: () => show(kind, limit * 4) }, `show more (${idx.length - limit} left)`));
  }
}

// ------------------------------------------------------------------ perf (eval timings and perf runs share this)

function histogramSVG(name, h) {
  const W = 320, H = 150, P = 28, max = Math.max(...h.counts), bw = (W - P - 8) / h.counts.length;
  return el("div", { cls: "hist" }, el("div", null, el("b", null, name), ` (${h.unit})`),
    sv("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" },
      h.counts.map((c, k) => sv("rect", { x: P + k * bw, y: H - 18 - (c / max) * (H - 30), width: Math.max(1, bw - 1), height: (c / max) * (H - 30), fill: "#4c72b0" },
        sv("title", null, `${fmt(h.edges[k], 2)}–${fmt(h.edges[k + 1], 2)} ${h.unit}: ${c}`))),
      sv("line", { x1: P, x2: W - 8, y1: H - 18, y2: H - 18, stroke: "#57606a" }),
      sv("text", { x: P, y: H - 4, "font-size": 10, fill: "#57606a" }, fmt(h.edges[0], 1)),
      sv("text", { x: W - 8, y: H - 4, "font-size": 10, fill: "#57606a", "text-anchor": "end" }, fmt(h.edges[h.edges.length - 1], 1)),
      sv("text", { x: P - 4, y: 14, "font-size": 10, fill: "#57606a", "text-anchor": "end" }, max)));
}

function perfSection(perf, title) {
  const section = el("div", { cls: "perf" }, title ? el("h3", null, title) : null);
  if (perf.error) section.append(el("p", { cls: "reason fail" }, perf.error));
  for (const p of perf.points) {
    const keys = ["n", "mean", "min", "p50", "p90", "p95", "p99", "max"];
    section.append(el("h3", null, p.label),
      Object.keys(p.scalars).length ? el("table", null, el("tr", null, Object.keys(p.scalars).map((k) => el("th", null, k))),
        el("tr", null, Object.values(p.scalars).map((v) => el("td", { cls: "num" }, fmt(v, 2))))) : null,
      el("table", { cls: "percentiles" }, el("tr", null, el("th", null, "metric"), el("th", null, "unit"), keys.map((k) => el("th", { cls: "num" }, k))),
        Object.entries(p.percentiles).map(([name, d]) => el("tr", null, el("td", null, name), el("td", { cls: "muted" }, d.unit || ""), keys.map((k) => el("td", { cls: "num" }, fmt(d[k], 2)))))),
      el("div", { cls: "hists" }, Object.entries(p.hists).map(([name, h]) => histogramSVG(name, h))));
  }
  return section;
}

function perfPanel(data) {
  const runs = data.runs.filter((r) => r.perf);
  if (!runs.length) return null;
  return el("section", { id: "perf" }, el("h2", null, "Timings"),
    runs.map((r) => perfSection(r.perf, data.runs.length > 1 ? `${r.model} ${r.id}` : null)));
}

// ------------------------------------------------------------------ page

function route(explorer) {
  const m = /^#s=(.+)$/.exec(location.hash);
  if (!m || !explorer) return;
  explorer.open(m[1].split("/").map(decodeURIComponent).join("/"));
}

async function main() {
  const app = document.getElementById("app");
  let data;
  try { data = await decode(); } catch (e) { app.replaceChildren(el("p", { cls: "reason fail" }, `Could not read this report's data: ${e}`)); return; }
  const hasSamples = data.runs.some((r) => r.samples && r.samples.index.length);
  const explorer = hasSamples ? new Explorer(data) : null;
  const hasScores = data.runs.some((r) => r.scoreboard.length);
  app.replaceChildren(...[header(data), gatesPanel(data), hasScores ? scoreboard(data) : null, explorer ? explorer.node : null,
    data.baseline && explorer ? baselinePanel(data, explorer) : null, perfPanel(data)].filter(Boolean));
  if (explorer) explorer.paint();
  route(explorer);
  window.addEventListener("hashchange", () => route(explorer));
  window.__evalscope = { data, explorer, ready: performance.now() };
  document.body.dataset.ready = "1";
}

main();

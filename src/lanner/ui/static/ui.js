// Lanner UI islands: actions and the execute form call the REST API; the execution page follows
// the API's SSE streams (logs, execution changes). No framework; see lanner/ui/pages.py.
"use strict";

const ROW_HEIGHT = 18; // px: the log viewer's rows all have this height (CSS .logs.virtual .row)
const OVERSCAN = 30; // rows rendered above and below the visible ones
const TERMINAL = new Set(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "RETRIED"]);

function api(path) {
  return document.body.dataset.api + path;
}

function uiTenant() {
  return document.body.dataset.api.split("/").pop();
}

function executionUrl(e) {
  return `/ui/${uiTenant()}/executions/${e.namespace}/${e.flowId}/${e.id}`;
}

async function call(method, path, body) {
  const response = await fetch(api(path), { method, body, credentials: "same-origin" });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text }; }
  if (!response.ok) {
    throw new Error((data && data.message) || `${response.status} ${response.statusText}`);
  }
  return data;
}

function say(id, text, isError) {
  const node = document.getElementById(id);
  if (node) { node.textContent = text; node.classList.toggle("error", !!isError); }
}

function setupActions() {
  for (const button of document.querySelectorAll("button[data-action]")) {
    button.addEventListener("click", async () => {
      say("action-message", `${button.dataset.action}…`);
      try {
        const data = await call(button.dataset.method, button.dataset.path);
        if (button.dataset.action === "replay" && data && data.id) {
          window.location.assign(executionUrl(data));
          return;
        }
        say("action-message", `${button.dataset.action}: done`);
        setTimeout(() => window.location.reload(), 500);
      } catch (error) {
        say("action-message", error.message, true);
      }
    });
  }
}

function setupExecuteForm() {
  const form = document.getElementById("execute");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    for (const [key, value] of [...data.entries()]) {
      if (value instanceof File && value.name === "") data.delete(key);
    }
    say("execute-message", "starting…");
    try {
      const execution = await call("POST", form.dataset.path, data);
      window.location.assign(executionUrl(execution));
    } catch (error) {
      say("execute-message", error.message, true);
    }
  });
}

// The server's format, in the UI's one time zone (the body's data-zone): to the millisecond.
function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: document.body.dataset.zone || "UTC", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    timeZoneName: "short",
  }).formatToParts(date);
  const part = (type) => (parts.find((p) => p.type === type) || { value: "" }).value;
  const millis = String(date.getUTCMilliseconds()).padStart(3, "0");
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")}:` +
    `${part("second")}.${millis} ${part("timeZoneName")}`;
}

function followExecution(section, viewer) {
  const id = section.dataset.id;

  let pending = null;
  const refresh = () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const response = await fetch(section.dataset.fragment, { credentials: "same-origin" });
      if (response.ok) document.getElementById("taskruns").innerHTML = await response.text();
    }, 200);
  };
  const executionStream = new EventSource(api(`/executions/${id}/follow`));
  executionStream.onmessage = (event) => {
    const execution = JSON.parse(event.data);
    if (!execution.state) return;
    const state = execution.state.current;
    document.getElementById("state").innerHTML =
      `<span class="state state-${state.toLowerCase()}">${state}</span>`;
    refresh();
    if (event.lastEventId === "end" || TERMINAL.has(state)) {
      executionStream.close();
      setTimeout(() => { viewer.stop(); window.location.reload(); }, 1500);
    }
  };
}

// The log viewer: every line is kept as a compact row in an array and only the rows in view (plus
// OVERSCAN) are in the DOM, so 100,000 lines scroll like 100. Lines come by pages from the UI's
// .../lines endpoint (keyset on the store's sequence), then live from the API's follow stream
// resumed after the last line seen (Last-Event-ID), so no line is missed or shown twice.
function logViewer(section) {
  const box = document.getElementById("logs");
  const rows = []; // [seq, time, level, task, text, continuation]
  let shown = []; // indexes into rows that pass the level filter
  const hidden = new Set();
  let lastSeq = 0;
  let started = false;
  let frame = 0;
  let stream = null;
  let anchor = 0; // the row on top of the view when a filter last changed (kept while none shows)
  const spacer = document.createElement("div");
  spacer.className = "spacer";
  const windowed = document.createElement("div");
  windowed.className = "rows";
  const counter = document.getElementById("logs-count");

  function start() {
    if (started) return;
    started = true;
    box.textContent = "";
    box.classList.add("virtual");
    box.append(spacer);
    spacer.append(windowed);
    const note = document.getElementById("logs-note");
    if (note) note.remove();
    box.addEventListener("scroll", schedule, { passive: true });
    window.addEventListener("resize", schedule);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    const first = Math.max(0, Math.floor(box.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(shown.length, first + Math.ceil(box.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN);
    const nodes = [];
    for (let i = first; i < last; i += 1) {
      const [, time, level, task, text, more] = rows[shown[i]];
      const row = document.createElement("div");
      row.className = `row level-${level}${more ? " more" : ""}`;
      const t = document.createElement("time");
      t.textContent = more ? "" : time;
      const b = document.createElement("b");
      b.textContent = more ? "" : level;
      const c = document.createElement("code");
      c.textContent = more ? "" : task;
      const m = document.createElement("span");
      m.textContent = text;
      row.append(t, " ", b, " ", c, " ", m);
      nodes.push(row);
    }
    windowed.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    windowed.replaceChildren(...nodes);
    if (counter) counter.textContent = `${shown.length} of ${rows.length} lines`;
  }

  function add(batch) {
    start();
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - ROW_HEIGHT;
    for (const [seq, time, level, task, message] of batch) {
      if (seq <= lastSeq) continue;
      lastSeq = seq;
      String(message).split("\n").forEach((text, part) => {
        rows.push([seq, time, level, task, text, part > 0]);
        if (!hidden.has(level)) shown.push(rows.length - 1);
      });
    }
    spacer.style.height = `${shown.length * ROW_HEIGHT}px`;
    // a live tail is followed while the reader stays at the bottom; a finished log opens at the top
    if (atBottom && (box.scrollTop > 0 || section.dataset.live === "true")) {
      box.scrollTop = box.scrollHeight;
    }
    schedule();
  }

  function filter(level, visible) {
    if (visible) hidden.delete(level); else hidden.add(level);
    if (shown.length) anchor = shown[Math.min(Math.floor(box.scrollTop / ROW_HEIGHT), shown.length - 1)];
    shown = [];
    rows.forEach((row, index) => { if (!hidden.has(row[2])) shown.push(index); });
    if (started) {
      spacer.style.height = `${shown.length * ROW_HEIGHT}px`;
      let low = 0;
      let high = shown.length;
      while (low < high) { // the first shown row at or after the anchor stays on top
        const mid = (low + high) >> 1;
        if (shown[mid] < anchor) low = mid + 1; else high = mid;
      }
      box.scrollTop = low * ROW_HEIGHT;
      schedule();
    } else {
      box.classList.toggle(`hide-${level}`, !visible);
    }
  }

  async function load() {
    const page = Number(section.dataset.logPage || "5000");
    for (;;) {
      const response = await fetch(`${section.dataset.fragment.replace(/\/taskruns$/, "")}/lines?after=${lastSeq}&limit=${page}`,
        { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      if (data.lines.length) add(data.lines);
      else start();
      if (!data.more) return;
    }
  }

  async function follow() {
    const controller = new AbortController();
    stream = controller;
    const response = await fetch(api(`/logs/${section.dataset.id}/follow`), {
      headers: { Accept: "text/event-stream", "Last-Event-ID": String(lastSeq) },
      credentials: "same-origin",
      signal: controller.signal,
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n/g, "\n");
      let cut;
      const batch = [];
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const frameText = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let id = null;
        let data = "";
        for (const line of frameText.split("\n")) {
          if (line.startsWith("id:")) id = line.slice(3).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trimStart();
        }
        if (!data || !/^\d+$/.test(id || "")) continue;
        const entry = JSON.parse(data);
        batch.push([Number(id), formatTime(entry.timestamp), entry.level, entry.taskId || "", entry.message]);
      }
      if (batch.length) add(batch);
    }
  }

  return {
    rows,
    filter,
    async run(live) {
      await load();
      if (live) follow().catch(() => {});
    },
    stop() { if (stream) stream.abort(); },
  };
}

function setupLevels(viewer) {
  for (const box of document.querySelectorAll("input[data-level]")) {
    box.addEventListener("change", () => viewer.filter(box.dataset.level, box.checked));
  }
}

function setupChangeState() {
  const form = document.getElementById("change-state");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const taskRunId = form.elements.taskRunId.value;
    const state = form.elements.state.value;
    const id = form.dataset.id;
    say("action-message", `changing state to ${state}…`);
    try {
      if (taskRunId) {
        const response = await fetch(api(`/executions/${id}/state`), {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ taskRunId, state }),
        });
        if (!response.ok) throw new Error((await response.json().catch(() => ({}))).message || response.statusText);
      } else {
        await call("POST", `/executions/${id}/change-status?status=${encodeURIComponent(state)}`);
      }
      say("action-message", `state changed to ${state}`);
      setTimeout(() => window.location.reload(), 500);
    } catch (error) {
      say("action-message", error.message, true);
    }
  });
}

// Topology pan and zoom: drag to pan, Ctrl+wheel (or pinch) and the +/− buttons to zoom, the
// reset button (or a double click) for the whole flow. Only the SVG's viewBox changes.
function setupTopology() {
  for (const svg of document.querySelectorAll("svg.topology")) {
    const initial = svg.getAttribute("viewBox").split(" ").map(Number);
    let box = [...initial];
    const apply = () => svg.setAttribute("viewBox", box.map((v) => v.toFixed(1)).join(" "));
    const zoom = (scale, fx = 0.5, fy = 0.5) => {
      const w = Math.min(Math.max(box[2] * scale, initial[2] / 8), initial[2] * 4);
      const h = (w * initial[3]) / initial[2];
      box = [box[0] + (box[2] - w) * fx, box[1] + (box[3] - h) * fy, w, h];
      apply();
    };
    const reset = () => { box = [...initial]; apply(); };
    svg.addEventListener("wheel", (event) => {
      if (!event.ctrlKey && !event.metaKey) return;
      event.preventDefault();
      const rect = svg.getBoundingClientRect();
      zoom(event.deltaY > 0 ? 1.2 : 1 / 1.2,
        (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
    }, { passive: false });
    let drag = null;
    svg.addEventListener("pointerdown", (event) => {
      drag = { x: event.clientX, y: event.clientY, box: [...box] };
      svg.setPointerCapture(event.pointerId);
      svg.classList.add("dragging");
    });
    svg.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const k = box[2] / svg.getBoundingClientRect().width;
      box = [drag.box[0] - (event.clientX - drag.x) * k, drag.box[1] - (event.clientY - drag.y) * k, box[2], box[3]];
      apply();
    });
    const end = () => { drag = null; svg.classList.remove("dragging"); };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    svg.addEventListener("dblclick", reset);
    const controls = document.createElement("div");
    controls.className = "zoom";
    for (const [label, action, title] of [["+", () => zoom(1 / 1.25), "zoom in"],
      ["−", () => zoom(1.25), "zoom out"], ["⤢", reset, "whole flow"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.title = title;
      button.dataset.zoom = title;
      button.addEventListener("click", action);
      controls.append(button);
    }
    svg.before(controls);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupActions();
  setupTopology();
  setupExecuteForm();
  setupChangeState();
  const section = document.getElementById("execution");
  if (!section) return;
  const viewer = logViewer(section);
  window.lannerLogs = viewer;
  setupLevels(viewer);
  const live = section.dataset.live === "true";
  viewer.run(live);
  if (live) followExecution(section, viewer);
});

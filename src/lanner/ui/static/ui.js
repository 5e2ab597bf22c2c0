// Lanner UI islands: actions and the execute form call the REST API; the execution page follows
// the API's SSE streams (logs, execution changes). No framework; see lanner/ui/pages.py.
"use strict";

const MAX_LOG_LINES = 20000; // lines kept in the page; older ones leave the DOM (download has all)
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

function setupLevels() {
  const logs = document.getElementById("logs");
  if (!logs) return;
  for (const box of document.querySelectorAll("input[data-level]")) {
    box.addEventListener("change", () => logs.classList.toggle(`hide-${box.dataset.level}`, !box.checked));
  }
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

function logLine(entry) {
  const line = document.createElement("div");
  line.className = `line level-${entry.level}`;
  const time = document.createElement("time");
  time.textContent = formatTime(entry.timestamp);
  const level = document.createElement("b");
  level.textContent = entry.level;
  const task = document.createElement("code");
  task.textContent = entry.taskId || "";
  const message = document.createElement("span");
  message.textContent = entry.message;
  line.append(time, " ", level, " ", task, " ", message);
  return line;
}

function followExecution(section) {
  const id = section.dataset.id;
  const logs = document.getElementById("logs");
  let skip = Number(section.dataset.lines || "0"); // lines the server rendered already
  const logStream = new EventSource(api(`/logs/${id}/follow`));
  logStream.onmessage = (event) => {
    if (skip > 0) { skip -= 1; return; }
    const atBottom = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    logs.append(logLine(JSON.parse(event.data)));
    while (logs.childElementCount > MAX_LOG_LINES) logs.firstElementChild.remove();
    if (atBottom) logs.scrollTop = logs.scrollHeight;
  };

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
      setTimeout(() => { logStream.close(); window.location.reload(); }, 1500);
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  setupActions();
  setupExecuteForm();
  setupLevels();
  const section = document.getElementById("execution");
  if (section && section.dataset.live === "true") followExecution(section);
});

// Lanner's flow editor island: CodeMirror 6 over a <textarea data-editor>, YAML highlighting,
// completion keyed on each task's `type` (the types and their JSON schemas come from the API's
// /plugins endpoints) and inline errors from POST /flows/validate (line and column).
// Built by ui-src/build.mjs into src/lanner/ui/static/editor.js; see ui-src/README.md.
import { basicSetup, EditorView } from "codemirror";
import { yaml } from "@codemirror/lang-yaml";
import { autocompletion } from "@codemirror/autocomplete";
import { linter, lintGutter, forceLinting } from "@codemirror/lint";
import { allowedValues, flowKeys, itemContext, keyContext, typeContext, valueContext } from "./yaml-context.js";

function api(path) {
  return document.body.dataset.api + path;
}

async function getJson(path) {
  const response = await fetch(api(path), { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.json();
}

let pluginList = null;
function plugins() {
  if (!pluginList) {
    pluginList = getJson("/plugins").catch((error) => { pluginList = null; throw error; });
  }
  return pluginList;
}

const schemas = new Map();
function schemaOf(type) {
  if (!schemas.has(type)) {
    schemas.set(type, getJson(`/plugins/${encodeURIComponent(type)}`).catch(() => null));
  }
  return schemas.get(type);
}

// The section a `type:` sits in decides which kinds are offered: tasks, triggers or conditions.
function typeOptions(list, section) {
  const kinds = section === "triggers" ? ["triggers"]
    : section === "conditions" ? ["conditions"] : ["tasks"];
  const options = [];
  for (const plugin of list) {
    for (const kind of kinds) {
      for (const cls of plugin[kind] || []) {
        const short = cls.split(".").pop();
        options.push({ label: cls, type: "class", detail: short, boost: 0 });
      }
    }
  }
  return options;
}

function describe(property) {
  if (!property) return undefined;
  const text = property.description || property.title;
  return text ? () => { const node = document.createElement("div"); node.textContent = text; return node; } : undefined;
}

function propertyOptions(schema, present) {
  const properties = (schema && schema.schema && schema.schema.properties
    && schema.schema.properties.properties) || {};
  const required = new Set((schema && schema.schema && schema.schema.properties
    && schema.schema.properties.required) || []);
  return Object.keys(properties)
    .filter((key) => !present.has(key))
    .map((key) => ({
      label: key,
      type: "property",
      apply: `${key}: `,
      detail: required.has(key) ? "required" : undefined,
      boost: required.has(key) ? 1 : 0,
      info: describe(properties[key]),
    }));
}

async function complete(context) {
  const doc = context.state.doc;
  const line = doc.lineAt(context.pos);
  const before = line.text.slice(0, context.pos - line.from);
  const lines = [];
  for (let n = 1; n <= doc.lines; n += 1) lines.push(doc.line(n).text);
  const lineIndex = line.number - 1;

  const typed = typeContext(before);
  if (typed) {
    const section = itemContext(lines, lineIndex, typed.column).section;
    let list;
    try { list = await plugins(); } catch (_) { return null; }
    return {
      from: line.from + typed.start,
      options: typeOptions(list, section),
      validFor: /^[\w.]*$/,
    };
  }
  const value = valueContext(before);
  if (value) {
    const item = itemContext(lines, lineIndex, value.column);
    if (!item.type) return null;
    const schema = await schemaOf(item.type);
    const properties = (schema && schema.schema && schema.schema.properties
      && schema.schema.properties.properties) || {};
    const values = allowedValues(properties[value.key]);
    if (!values.length) return null;
    return {
      from: line.from + value.start,
      options: values.map((v) => ({ label: v, type: "enum" })),
      validFor: /^[\w.-]*$/,
    };
  }
  const key = keyContext(before);
  if (!key) return null;
  if (key.word === "" && !context.explicit) return null;
  if (key.column === 0) {
    const present = new Set(lines.map((text) => (/^([A-Za-z]\w*):/.exec(text) || [])[1]));
    return {
      from: line.from + key.start,
      options: flowKeys.filter((k) => !present.has(k)).map((k) => ({ label: k, type: "keyword", apply: `${k}: ` })),
      validFor: /^\w*$/,
    };
  }
  const item = itemContext(lines, lineIndex, key.column);
  if (!item.type) return null;
  const schema = await schemaOf(item.type);
  if (!schema) return null;
  item.keys.add("type");
  return { from: line.from + key.start, options: propertyOptions(schema, item.keys), validFor: /^\w*$/ };
}

// "tasks[0].message: must not be null (line 4, column 5)": one diagnostic per located line.
const LOCATED = /^(.*) \(line (\d+), column (\d+)\)\s*$/;

export function diagnosticsFrom(doc, results) {
  const found = [];
  for (const result of results || []) {
    if (!result.constraints) continue;
    for (const text of result.constraints.split("\n")) {
      if (!text.trim()) continue;
      const match = LOCATED.exec(text);
      let from = 0;
      let to = Math.min(doc.length, doc.line(1).to);
      if (match) {
        // the whole entry the server points into (its key and value), not only the value
        const number = Math.min(Math.max(Number(match[2]), 1), doc.lines);
        const line = doc.line(number);
        const column = Math.min(Math.max(Number(match[3]) - 1, 0), line.length);
        const lead = /^\s*(?:-\s+)?/.exec(line.text)[0].length;
        from = line.from + Math.min(lead, column);
        to = line.to > from ? line.to : Math.min(from + 1, doc.length);
      }
      found.push({ from, to, severity: "error", message: match ? match[1] : text, source: "validate" });
    }
  }
  return found;
}

async function validate(view) {
  const text = view.state.doc.toString();
  if (!text.trim()) return [];
  try {
    const response = await fetch(api("/flows/validate"), {
      method: "POST",
      body: text,
      headers: { "Content-Type": "application/x-yaml" },
      credentials: "same-origin",
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      return [{ from: 0, to: 0, severity: "error", message: body.message || response.statusText }];
    }
    const diagnostics = diagnosticsFrom(view.state.doc, await response.json());
    view.dom.dataset.errors = String(diagnostics.length);
    return diagnostics;
  } catch (error) {
    return [{ from: 0, to: 0, severity: "warning", message: `cannot validate: ${error.message}` }];
  }
}

function say(node, text, isError) {
  if (!node) return;
  node.textContent = text;
  node.classList.toggle("error", !!isError);
}

function mount(textarea) {
  const form = textarea.form;
  const view = new EditorView({
    doc: textarea.value,
    extensions: [
      basicSetup,
      yaml(),
      autocompletion({ override: [complete], activateOnTyping: true }),
      linter(validate, { delay: 400 }),
      lintGutter(),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
    ],
  });
  textarea.hidden = true;
  textarea.after(view.dom);
  view.dom.classList.add("editor");
  window.lannerEditor = view;
  if (!form) return;
  const message = form.querySelector("[role=status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    textarea.value = view.state.doc.toString();
    say(message, "saving…");
    const existing = form.dataset.flow;
    const response = await fetch(api(existing ? `/flows/${existing}` : "/flows"), {
      method: existing ? "PUT" : "POST",
      body: textarea.value,
      headers: { "Content-Type": "application/x-yaml" },
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      say(message, body.message || `${response.status} ${response.statusText}`, true);
      forceLinting(view);
      return;
    }
    say(message, `saved revision ${body.revision}`);
    const tenant = document.body.dataset.api.split("/").pop();
    window.location.assign(`/ui/${tenant}/flows/${body.namespace}/${body.id}`);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const textarea of document.querySelectorAll("textarea[data-editor]")) mount(textarea);
});

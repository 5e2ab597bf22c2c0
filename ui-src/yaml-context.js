// Where the cursor is in a flow's YAML, read from the lines' indentation: enough to know which
// task (and so which `type`) a key being typed belongs to, and in which section (tasks, triggers,
// conditions) a `type:` value sits. Plain functions over strings, no CodeMirror.

export const flowKeys = [
  "id", "namespace", "description", "labels", "inputs", "variables", "tasks", "errors",
  "finally", "afterExecution", "triggers", "outputs", "concurrency", "retry", "sla",
  "pluginDefaults", "disabled", "checks",
];

function shape(text) {
  if (!text.trim() || /^\s*#/.test(text)) return null;
  const lead = /^(\s*)((?:-\s+)*)/.exec(text);
  const keyCol = lead[0].length;
  const rest = text.slice(keyCol);
  const key = (/^([\w.-]+)\s*:(?:\s|$)/.exec(rest) || [])[1];
  return { indent: lead[1].length, item: lead[2].length > 0, keyCol, key, rest };
}

// `- type: io.kestra.pl|`: the value's start and the key's column, else null.
export function typeContext(before) {
  const match = /^(\s*(?:-\s+)*)type:(\s*)(["']?)([\w.]*)$/.exec(before);
  if (!match) return null;
  return { column: match[1].length, start: match[1].length + 5 + match[2].length + match[3].length };
}

// `    level: WA|`: the key, its column and where the value starts, else null (not for `type`).
export function valueContext(before) {
  const match = /^(\s*(?:-\s+)*)([\w-]+):(\s*)(["']?)([\w.-]*)$/.exec(before);
  if (!match || match[2] === "type") return null;
  return {
    key: match[2],
    column: match[1].length,
    start: match[1].length + match[2].length + 1 + match[3].length + match[4].length,
  };
}

// The values a property's JSON schema allows, when it lists them (enum, const, boolean).
export function allowedValues(property) {
  if (!property) return [];
  const found = [];
  const visit = (schema) => {
    if (!schema || typeof schema !== "object") return;
    if (Array.isArray(schema.enum)) found.push(...schema.enum);
    if ("const" in schema) found.push(schema.const);
    if (schema.type === "boolean") found.push(true, false);
    for (const key of ["anyOf", "oneOf", "allOf"]) (schema[key] || []).forEach(visit);
  };
  visit(property);
  return [...new Set(found.filter((v) => v !== null).map(String))];
}

// `    mess|` or `  - |`: the key's start (= its column) and the word typed so far, else null.
export function keyContext(before) {
  const match = /^(\s*(?:-\s+)*)(\w*)$/.exec(before);
  if (!match) return null;
  return { column: match[1].length, start: match[1].length, word: match[2] };
}

// The mapping whose keys sit at `column` around line `index`: its keys, its `type` and the
// section (the parent key) of the list it is an item of.
export function itemContext(lines, index, column) {
  const keys = new Set();
  let type = null;
  let start = index;
  const take = (s) => {
    if (!s.key) return;
    keys.add(s.key);
    if (s.key === "type") {
      const value = /^type:\s*["']?([\w.]+)/.exec(s.rest);
      if (value) type = value[1];
    }
  };
  const current = shape(lines[index]);
  if (!(current && current.item && current.keyCol === column)) {
    for (let i = index - 1; i >= 0; i -= 1) {
      const s = shape(lines[i]);
      if (!s || s.keyCol > column) continue;
      if (s.keyCol < column) break;
      take(s);
      start = i;
      if (s.item) break;
    }
  }
  for (let i = index + 1; i < lines.length; i += 1) {
    const s = shape(lines[i]);
    if (!s) continue;
    if (s.item && s.indent < column) break;
    if (s.keyCol < column) break;
    if (s.keyCol === column) take(s);
  }
  const first = shape(lines[start]) || { indent: column, item: false };
  const outer = first.item ? first.indent : column;
  let section = null;
  for (let i = start - 1; i >= 0; i -= 1) {
    const s = shape(lines[i]);
    if (!s || s.keyCol >= outer) continue;
    const parent = /^([\w-]+):\s*$/.exec(s.rest);
    section = parent ? parent[1] : null;
    break;
  }
  return { keys, type, section };
}

// node --test: the YAML cursor context the editor's completion relies on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { allowedValues, itemContext, keyContext, typeContext, valueContext } from "./yaml-context.js";

const flow = [
  "id: demo",
  "namespace: company.team",
  "tasks:",
  "  - id: hello",
  "    type: io.kestra.plugin.core.log.Log",
  "    mes",
  "  - id: other",
  "    type: io.kestra.plugin.core.debug.Return",
  "triggers:",
  "  - id: every",
  "    type: io.kestra.plugin.core.trigger.Sch",
];

test("a key typed under a task belongs to that task's type", () => {
  const key = keyContext(flow[5]);
  assert.deepEqual(key, { column: 4, start: 4, word: "mes" });
  const item = itemContext(flow, 5, key.column);
  assert.equal(item.type, "io.kestra.plugin.core.log.Log");
  assert.deepEqual([...item.keys].sort(), ["id", "type"]);
  assert.equal(item.section, "tasks");
});

test("a type value knows its section", () => {
  const typed = typeContext(flow[10]);
  assert.equal(typed.column, 4);
  assert.equal(flow[10].slice(typed.start), "io.kestra.plugin.core.trigger.Sch");
  assert.equal(itemContext(flow, 10, typed.column).section, "triggers");
  const inline = typeContext("  - type: io.k");
  assert.equal(inline.column, 4);
  assert.equal(inline.start, 10);
});

test("the first key of a new item sees the keys below it only", () => {
  const lines = ["tasks:", "  - ", "    type: io.kestra.plugin.core.log.Log", "  - id: b"];
  const item = itemContext(lines, 1, keyContext(lines[1]).column);
  assert.equal(item.type, "io.kestra.plugin.core.log.Log");
  assert.deepEqual([...item.keys], ["type"]);
});

test("a value typed after a key, and the values its schema allows", () => {
  assert.deepEqual(valueContext("    level: WA"), { key: "level", column: 4, start: 11 });
  assert.equal(valueContext("    type: io.k"), null);
  assert.equal(valueContext("    message: hello world"), null);
  const level = { anyOf: [{ enum: ["TRACE", "INFO"], type: "string" }, { type: "null" }] };
  assert.deepEqual(allowedValues(level), ["TRACE", "INFO"]);
  assert.deepEqual(allowedValues({ type: "boolean" }), ["true", "false"]);
  assert.deepEqual(allowedValues({ type: "string" }), []);
});

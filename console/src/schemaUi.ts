// How a schema shapes its form, decided from the schema alone (never from a pipeline's name):
// - an object with string properties `sha256` and `filename` (what POST /files returns as
//   `document`), or any schema with `"format": "segue-file"`, is a file picker that uploads;
// - arrays get add / insert / remove / move buttons;
// - long strings (`maxLength` over 1000, or `"format": "textarea"`) get a text area.

import type { UiSchema } from "@rjsf/utils";
import type { Json, JsonObject } from "./api";

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function isFileRef(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  if (schema.format === "segue-file") return true;
  const props = schema.properties;
  if (!isObject(props) || !isObject(props.sha256) || !isObject(props.filename)) return false;
  return props.sha256.type === "string" && props.filename.type === "string";
}

export function uiSchemaFor(schema: Json, depth = 0): UiSchema {
  if (!isObject(schema) || depth > 16) return {};
  if (isFileRef(schema)) return { "ui:field": "fileRef" };
  const ui: UiSchema = {};
  if (schema.type === "object" && isObject(schema.properties)) {
    for (const [name, sub] of Object.entries(schema.properties)) {
      const child = uiSchemaFor(sub, depth + 1);
      if (Object.keys(child).length) ui[name] = child;
    }
  }
  if (schema.type === "array" && isObject(schema.items)) {
    ui["ui:options"] = { orderable: true, removable: true, addable: true };
    const items = uiSchemaFor(schema.items, depth + 1);
    if (isObject(schema.items) && schema.items.type === "object") items["ui:classNames"] = "row-object";
    ui.items = items;
  }
  if (schema.type === "string" && (schema.format === "textarea" || Number(schema.maxLength ?? 0) > 1000)) {
    ui["ui:widget"] = "textarea";
    ui["ui:options"] = { rows: 2 };
  }
  return ui;
}

/** Server errors `[{pointer, message}]` as RJSF's nested error schema, for the fields they name. */
export function errorSchemaOf(errors: { pointer: string; message: string }[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const { pointer, message } of errors) {
    const parts = pointer
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    let node = root;
    for (const part of parts) {
      node[part] = (node[part] as Record<string, unknown>) ?? {};
      node = node[part] as Record<string, unknown>;
    }
    const list = (node.__errors as string[]) ?? [];
    list.push(message);
    node.__errors = list;
  }
  return root;
}

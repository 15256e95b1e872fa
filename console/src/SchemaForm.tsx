// One form renderer for every schema: react-jsonschema-form with templates of our own for
// array rows (move, insert, remove, as labelled buttons) and a file field that uploads.
// The server is the judge of validity: its 422 errors come back by JSON pointer and are
// shown next to the fields they name (client-side checks could disagree with it).

import Form from "@rjsf/core";
import type {
  ArrayFieldItemButtonsTemplateProps,
  ArrayFieldItemTemplateProps,
  ErrorSchema,
  FieldProps,
  IconButtonProps,
  RJSFSchema,
} from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useMemo, useState, type MouseEvent, type ReactNode } from "react";
import { api, ApiError, type Json, type JsonObject } from "./api";
import { bytes } from "./format";
import { errorSchemaOf, uiSchemaFor } from "./schemaUi";

type Click = (event: MouseEvent<HTMLButtonElement>) => void;

// A row's button re-renders the rows: the focused button is removed, or moved in the DOM
// (which drops the focus). Without this, a keyboard user is sent back to the top of the page.
// Once the rows are drawn again, focus the first of `targets` (selectors within this array's
// rows) that exists and is enabled, else the array's Add button.
function thenFocus(action: Click, targets: (string | null)[]): Click {
  return (event) => {
    const rows = event.currentTarget.closest(".array-row")?.parentElement;
    action(event);
    if (!rows) return;
    requestAnimationFrame(() => {
      for (const target of targets) {
        const found = target && rows.querySelector<HTMLElement>(`:scope > ${target}`);
        if (found && !(found as HTMLButtonElement).disabled) return found.focus();
      }
      rows.parentElement?.querySelector<HTMLElement>("button.add")?.focus();
    });
  };
}

function rowButton(index: number, label: string): string {
  return `.array-row[data-index="${index}"] > .array-tools button[aria-label="${label}"]`;
}

function ItemButtons(p: ArrayFieldItemButtonsTemplateProps) {
  const i = p.index;
  const n = i + 1;
  const off = p.disabled || p.readonly;
  const up = (k: number) => rowButton(k, `Move item ${k + 1} up`);
  const down = (k: number) => rowButton(k, `Move item ${k + 1} down`);
  const remove = (k: number) => rowButton(k, `Remove item ${k + 1}`);
  const field = `.array-row[data-index="${i + 1}"] > .array-body :is(input, select, textarea)`;
  return (
    <>
      {(p.hasMoveUp || p.hasMoveDown) && (
        <button type="button" className="icon" disabled={off || !p.hasMoveUp}
          onClick={thenFocus(p.onMoveUpItem, [up(i - 1), down(i - 1)])}
          aria-label={`Move item ${n} up`} title="Move up">↑</button>
      )}
      {(p.hasMoveUp || p.hasMoveDown) && (
        <button type="button" className="icon" disabled={off || !p.hasMoveDown}
          onClick={thenFocus(p.onMoveDownItem, [down(i + 1), up(i + 1)])}
          aria-label={`Move item ${n} down`} title="Move down">↓</button>
      )}
      {p.canAdd && (
        <button type="button" className="icon" disabled={off} onClick={thenFocus(p.onAddItem, [field])}
          aria-label={`Insert an item after item ${n}`} title="Insert below">＋</button>
      )}
      {p.hasRemove && (
        <button type="button" className="icon danger" disabled={off}
          onClick={thenFocus(p.onRemoveItem, [remove(i), i > 0 ? remove(i - 1) : null])}
          aria-label={`Remove item ${n}`} title="Remove">✕</button>
      )}
    </>
  );
}

function ItemTemplate(props: ArrayFieldItemTemplateProps) {
  const { children, className, buttonsProps, hasToolbar, index, totalItems } = props;
  return (
    <div className={`${className} array-row`} data-index={index}>
      <span className="array-index" aria-hidden="true">{index + 1}</span>
      <div className="array-body">{children}</div>
      {hasToolbar && (
        <div className="array-tools" role="group" aria-label={`Item ${index + 1} of ${totalItems}`}>
          <ItemButtons {...buttonsProps} />
        </div>
      )}
    </div>
  );
}

function AddButton(props: IconButtonProps) {
  const { className, onClick, disabled } = props;
  return (
    <button type="button" className={`add ${className ?? ""}`} onClick={onClick} disabled={disabled}
      aria-label="Add an item at the end">＋ Add</button>
  );
}

function collectErrors(schema: ErrorSchema | undefined): string[] {
  if (!schema) return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (key === "__errors") found.push(...((value as unknown as string[]) ?? []));
    else found.push(...collectErrors(value as ErrorSchema));
  }
  return found;
}

function FileRefField(props: FieldProps) {
  const { formData, onChange, schema, fieldPathId, required, errorSchema, disabled, readonly, name } = props;
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const [size, setSize] = useState<number | null>(null);
  const id = fieldPathId.$id;
  const current = formData as { sha256?: string; filename?: string } | undefined;
  const errors = [...collectErrors(errorSchema), ...(failure ? [failure] : [])];

  async function pick(file: File | undefined) {
    if (!file) return;
    setBusy(true);
    setFailure(null);
    try {
      const ref = await api.upload(file);
      const props = (schema.properties ?? {}) as Record<string, unknown>;
      const value: Record<string, Json> = {};
      const given: Record<string, Json> = { sha256: ref.sha256, filename: ref.filename, size: ref.size };
      for (const key of Object.keys(given)) if (key in props) value[key] = given[key];
      setSize(ref.size);
      onChange(Object.keys(value).length ? value : ref.document, fieldPathId.path);
    } catch (err) {
      setFailure(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className={`file-field${errors.length ? " has-error" : ""}`}>
      <label htmlFor={id} className="control-label">
        {schema.title ?? name}
        {required && <span className="required">*</span>}
      </label>
      {schema.description && <p className="field-description">{schema.description}</p>}
      <input id={id} type="file" disabled={disabled || readonly || busy}
        aria-describedby={`${id}-status`} onChange={(e) => pick(e.target.files?.[0])} />
      <p id={`${id}-status`} className="file-status" aria-live="polite">
        {busy ? "Uploading…" : current?.sha256
          ? `Uploaded ${current.filename ?? ""}${size !== null ? ` (${bytes(size)})` : ""}, sha256 ${current.sha256.slice(0, 12)}…`
          : "No file uploaded yet."}
      </p>
      {errors.length > 0 && (
        <ul className="error-detail">{errors.map((e, i) => <li key={i} className="text-danger">{e}</li>)}</ul>
      )}
    </div>
  );
}

export interface SchemaFormProps {
  schema: JsonObject;
  formData: Json;
  onChange: (data: Json) => void;
  onSubmit: (data: Json) => void;
  errors?: { pointer: string; message: string }[];
  disabled?: boolean;
  idPrefix: string;
  children: ReactNode;
}

export function SchemaForm({ schema, formData, onChange, onSubmit, errors, disabled, idPrefix, children }: SchemaFormProps) {
  const uiSchema = useMemo(() => uiSchemaFor(schema), [schema]);
  const extraErrors = useMemo(
    () => (errors?.length ? (errorSchemaOf(errors) as ErrorSchema) : undefined),
    [errors],
  );
  return (
    <Form
      schema={schema as RJSFSchema}
      uiSchema={uiSchema}
      formData={formData}
      validator={validator}
      idPrefix={idPrefix}
      noValidate
      noHtml5Validate
      showErrorList={false}
      extraErrors={extraErrors}
      disabled={disabled}
      fields={{ fileRef: FileRefField }}
      templates={{ ArrayFieldItemTemplate: ItemTemplate, ButtonTemplates: { AddButton } }}
      onChange={(event) => onChange(event.formData as Json)}
      onSubmit={(event) => onSubmit(event.formData as Json)}
    >
      {children}
    </Form>
  );
}

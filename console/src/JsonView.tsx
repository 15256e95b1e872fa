// JSON pretty-printed and collapsible: objects and arrays are <details> (closed past the
// first levels, or when long); an object holding a file's sha256 gets a download button.

import { download, type Json } from "./api";

const OPEN_DEPTH = 2;
const LONG = 20;

function isFile(value: Json): value is { sha256: string; filename?: string } & Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    && typeof value.sha256 === "string" && /^[0-9a-f]{64}$/.test(value.sha256);
}

function Scalar({ value }: { value: Json }) {
  if (typeof value === "string") return <span className="j-str">{JSON.stringify(value)}</span>;
  if (value === null) return <span className="j-null">null</span>;
  return <span className={`j-${typeof value}`}>{String(value)}</span>;
}

function Node({ name, value, depth }: { name: string | null; value: Json; depth: number }) {
  const key = name !== null ? <span className="j-key">{name}: </span> : null;
  if (value === null || typeof value !== "object") {
    return <div className="j-line">{key}<Scalar value={value} /></div>;
  }
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (!entries.length) return <div className="j-line">{key}{open}{close}</div>;
  const summary = Array.isArray(value) ? `${entries.length} items` : `${entries.length} keys`;
  return (
    <details className="j-node" open={depth < OPEN_DEPTH && entries.length <= LONG}>
      <summary>
        {key}{open} <span className="j-summary">{summary}</span> {close}
        {isFile(value) && (
          <button type="button" className="small" onClick={(e) => {
            e.preventDefault();
            void download(`/files/${value.sha256}`, String(value.filename ?? value.sha256));
          }}>Download {String(value.filename ?? "file")}</button>
        )}
      </summary>
      <div className="j-children">
        {entries.map(([k, v]) => <Node key={k} name={k} value={v} depth={depth + 1} />)}
      </div>
    </details>
  );
}

export function JsonView({ value }: { value: Json }) {
  return <div className="json"><Node name={null} value={value} depth={0} /></div>;
}

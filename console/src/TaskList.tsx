import { useEffect, useState, type FormEvent } from "react";
import { api, type Me, type PipelineVersion, type TaskView } from "./api";
import { StatusBadge, STATUSES, statusLabel, when } from "./format";
import { Link, navigate, useLocation } from "./router";

const PAGE = 25;

export function TaskList({ me }: { me: Me }) {
  const { query } = useLocation();
  const pipeline = query.get("pipeline");
  const status = query.get("status");
  const id = query.get("id");
  const cursor = query.get("cursor");
  const [pipelines, setPipelines] = useState<PipelineVersion[]>([]);
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const [page, setPage] = useState<{ tasks: TaskView[]; next_cursor: string | null } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [search, setSearch] = useState(id ?? "");
  const [previous, setPrevious] = useState<string[]>([]);
  const [tick, setTick] = useState(0);

  const go = (changes: Record<string, string | null>, keepCursor = false) => {
    const next = new URLSearchParams(query);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    if (!keepCursor) {
      next.delete("cursor");
      setPrevious([]);
    }
    navigate(`/?${next}`);
  };

  useEffect(() => {
    api.pipelines().then(setPipelines).catch(() => setPipelines([]));
  }, []);

  useEffect(() => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (pipeline) q.set("pipeline", pipeline);
    if (status) q.set("status", status);
    if (id) q.set("id", id);
    if (cursor) q.set("cursor", cursor);
    setFailure(null);
    api.tasks(q).then(setPage).catch((err) => setFailure(err.message));
    api.counts(pipeline).then((c) => setCounts(c.counts)).catch(() => setCounts(null));
  }, [pipeline, status, id, cursor, tick]);

  const names = [...new Set(pipelines.map((p) => p.pipeline))];
  const total = counts ? Object.values(counts).reduce((a, b) => a + b, 0) : null;
  const submitSearch = (e: FormEvent) => {
    e.preventDefault();
    const text = search.trim().toLowerCase();
    if (text && !/^[0-9a-f-]+$/.test(text)) {
      setFailure("A task id has only the characters 0-9, a-f and '-'.");
      return;
    }
    go({ id: text || null });
  };

  return (
    <main>
      <div className="title-row">
        <h1>Tasks</h1>
        {me.role !== "viewer" && (
          <Link className="button primary" href={pipeline ? `/new?pipeline=${encodeURIComponent(pipeline)}` : "/new"}>
            New task
          </Link>
        )}
      </div>
      <div className="filters">
        <label>Pipeline{" "}
          <select value={pipeline ?? ""} onChange={(e) => go({ pipeline: e.target.value || null })}>
            <option value="">all</option>
            {names.map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
        </label>
        <form role="search" onSubmit={submitSearch}>
          <label>Task id{" "}
            <input value={search} onChange={(e) => setSearch(e.target.value)} placeholder="01a2… (start of an id)"
              spellCheck={false} />
          </label>
          <button type="submit">Find</button>
        </form>
        <button type="button" onClick={() => setTick((t) => t + 1)}>Refresh</button>
      </div>
      <div className="chips" role="group" aria-label="Status">
        <button type="button" aria-pressed={!status} onClick={() => go({ status: null })}>
          all{total !== null ? ` ${total}` : ""}
        </button>
        {STATUSES.map((s) => (
          <button key={s} type="button" aria-pressed={status === s} className={`chip s-${s}`}
            onClick={() => go({ status: status === s ? null : s })}>
            {statusLabel(s)} <span className="count">{counts?.[s] ?? 0}</span>
          </button>
        ))}
      </div>
      {failure && <p className="error" role="alert">{failure}</p>}
      {page && (
        <div className="table-wrap">
          <table className="tasks">
            <thead>
              <tr><th>Task</th><th>Pipeline</th><th>Status</th><th>Current step</th><th>Updated</th></tr>
            </thead>
            <tbody>
              {page.tasks.map((t) => (
                <tr key={t.id}>
                  <td><Link href={`/task/${t.id}`} className="mono">{t.id}</Link></td>
                  <td>{t.pipeline} v{t.version}</td>
                  <td><StatusBadge status={t.status} /></td>
                  <td>{t.current_step ?? ""}</td>
                  <td>{when(t.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {!page.tasks.length && <p>No tasks{pipeline || status || id ? " match these filters" : " yet"}.</p>}
        </div>
      )}
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={!cursor} onClick={() => {
          const back = [...previous];
          const to = back.pop() ?? null;
          setPrevious(back);
          go({ cursor: to }, true);
        }}>Newer</button>
        <button type="button" disabled={!page?.next_cursor} onClick={() => {
          setPrevious([...previous, cursor ?? ""]);
          go({ cursor: page?.next_cursor ?? null }, true);
        }}>Older</button>
      </nav>
    </main>
  );
}

// One generic page for any task: what it needs now (a form from the wait step's schema),
// its graph, steps, artifacts and event log, the operator actions, and time travel.
// Nothing here knows a pipeline: everything comes from the task view and its definition.

import { useCallback, useEffect, useRef, useState } from "react";
import {
  api, ApiError, download,
  type Artifact, type EventView, type History, type Json, type Me, type PipelineDetail,
  type StepView, type TaskView, type Waiting,
} from "./api";
import { ConfirmDialog, type Ask } from "./Confirm";
import { bytes, duration, StatusBadge, statusLabel, when } from "./format";
import { Graph } from "./Graph";
import { JsonView } from "./JsonView";
import { navigate } from "./router";
import { SchemaForm } from "./SchemaForm";
import { followTask } from "./sse";

interface Draft {
  key: string;
  need: Waiting;
  data: Json;
  dirty: boolean;
  restored?: boolean;
}

// Unsent edits are kept in this tab's session storage, per task and per wait (its key), so a
// reload, Back and Forward or a link followed by mistake does not lose a long outline's edits.
function savedKey(taskId: string): string {
  return `segue.draft.${taskId}`;
}

function saveDraft(taskId: string, draft: Draft): void {
  try {
    sessionStorage.setItem(savedKey(taskId), JSON.stringify({ key: draft.key, data: draft.data }));
  } catch {
    // Storage full or refused: the edits stay in the page only.
  }
}

function forgetDraft(taskId: string): void {
  try {
    sessionStorage.removeItem(savedKey(taskId));
  } catch {
    // Nothing was kept.
  }
}

function savedDraft(taskId: string, key: string): Json | undefined {
  try {
    const saved = JSON.parse(sessionStorage.getItem(savedKey(taskId)) ?? "null");
    return saved && saved.key === key ? saved.data : undefined;
  } catch {
    return undefined;
  }
}

function waitKey(view: TaskView | null): string | null {
  const need = view?.required_input;
  if (!view || !need || !need.can_answer) return null;
  const step = view.steps.find((s) => s.id === need.step);
  return `${need.step}:${step?.attempt ?? 0}:${step?.started_at ?? ""}`;
}

function freshDraft(view: TaskView | null): Draft | null {
  const key = waitKey(view);
  if (!key || !view?.required_input) return null;
  const saved = savedDraft(view.id, key);
  if (saved !== undefined) return { key, need: view.required_input, data: saved, dirty: true, restored: true };
  return { key, need: view.required_input, data: view.required_input.prefill ?? {}, dirty: false };
}

function stepName(view: TaskView | null, id: string): string {
  const step = view?.steps.find((s) => s.id === id);
  return step?.title ? `“${step.title}”` : `“${id}”`;
}

function nowWaiting(view: TaskView): string {
  if (view.waiting.length) return `it waits for ${view.waiting.map((w) => `“${w.title ?? w.step}”`).join(", ")}`;
  return `it is ${statusLabel(view.status)}${view.current_step ? ` at ${stepName(view, view.current_step)}` : ""}`;
}

function errorText(error: unknown): string | null {
  if (!error) return null;
  if (typeof error === "string") return error;
  const e = error as { type?: string; message?: string };
  return [e.type, e.message].filter(Boolean).join(": ");
}

export function TaskPage({ id, me }: { id: string; me: Me }) {
  const [view, setView] = useState<TaskView | null>(null);
  const [pipeline, setPipeline] = useState<PipelineDetail | null>(null);
  const [events, setEvents] = useState<EventView[]>([]);
  const [artifacts, setArtifacts] = useState<Artifact[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [live, setLive] = useState<"live" | "ended" | "retrying">("retrying");
  const [selected, setSelected] = useState<string | null>(null);
  const [past, setPast] = useState<History | null>(null);
  const [ask, setAsk] = useState<Ask | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [formErrors, setFormErrors] = useState<{ pointer: string; message: string }[]>([]);
  const [formFailure, setFormFailure] = useState<string | null>(null);
  const [conflict, setConflict] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const [, setClock] = useState(0);
  const timer = useRef<number | undefined>(undefined);
  const conflictBox = useRef<HTMLDivElement>(null);

  const refresh = useCallback(async () => {
    try {
      const [v, a] = await Promise.all([api.task(id), api.artifacts(id)]);
      setView(v);
      setArtifacts(a);
      setFailure(null);
    } catch (err) {
      setFailure(err instanceof Error ? err.message : String(err));
    }
  }, [id]);

  useEffect(() => {
    void refresh();
    const stop = followTask(
      id,
      (batch) => {
        setEvents((old) => [...old, ...batch.filter((e) => !old.length || e.seq > old[old.length - 1].seq)]);
        window.clearTimeout(timer.current);
        timer.current = window.setTimeout(() => void refresh(), 80);
      },
      setLive,
    );
    return () => {
      stop();
      window.clearTimeout(timer.current);
    };
  }, [id, refresh]);

  useEffect(() => {
    if (!view) return;
    if (pipeline && pipeline.pipeline === view.pipeline && pipeline.version === view.version) return;
    api.pipeline(view.pipeline, view.version).then(setPipeline).catch((err) => setFailure(err.message));
  }, [view, pipeline]);

  // A new wait replaces the form only while the person has not typed into it (or hit a conflict).
  useEffect(() => {
    setDraft((d) => {
      if (d && (d.dirty || conflict)) return d;
      const key = waitKey(view);
      if (d && d.key === key) return d;
      return freshDraft(view);
    });
  }, [view, conflict]);

  // Keep unsent edits across a reload; forget them once they are back to the prefill.
  useEffect(() => {
    if (draft?.dirty) saveDraft(id, draft);
    else if (draft) forgetDraft(id);
  }, [id, draft]);

  // Submit may sit far below the top of a long form: bring the conflict's notice into view.
  useEffect(() => {
    if (!conflict || !conflictBox.current) return;
    conflictBox.current.scrollIntoView({ block: "center" });
    conflictBox.current.focus({ preventScroll: true });
  }, [conflict]);

  // Running steps show a duration that grows.
  const running = view?.steps.some((s) => s.status === "RUNNING");
  useEffect(() => {
    if (!running) return;
    const tick = window.setInterval(() => setClock((n) => n + 1), 1000);
    return () => window.clearInterval(tick);
  }, [running]);

  if (!view) {
    return <main>{failure ? <p className="error" role="alert">{failure}</p> : <p>Loading…</p>}</main>;
  }

  const allowed = new Set(view.allowed_actions ?? []);
  const shown = past ? past.task : view;
  const shownArtifacts = past ? past.artifacts : artifacts;
  const stale = draft !== null && draft.key !== waitKey(view);
  const sel = shown.steps.find((s) => s.id === selected) ?? null;

  async function act(action: string, body?: unknown) {
    const next = await api.control(id, action, body);
    setView(next);
    setPast(null);
    void refresh();
  }

  async function submit(data: Json) {
    if (!draft) return;
    setSending(true);
    setFormErrors([]);
    setFormFailure(null);
    try {
      const next = await api.advance(id, draft.need.step, data);
      forgetDraft(id);
      setConflict(null);
      setDraft(null);
      setView(next);
      void refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setConflict(err.message);
        if (err.problem.task) setView(err.problem.task);
      } else if (err instanceof ApiError && err.status === 422) {
        setFormErrors(err.problem.errors ?? []);
        setFormFailure(err.message);
      } else setFormFailure(err instanceof Error ? err.message : String(err));
    } finally {
      setSending(false);
    }
  }

  function discard() {
    forgetDraft(id);
    setConflict(null);
    setFormErrors([]);
    setFormFailure(null);
    setDraft(freshDraft(view));
  }

  async function travel(seq: number) {
    try {
      setPast(await api.history(id, seq));
    } catch (err) {
      setFailure(err instanceof Error ? err.message : String(err));
    }
  }

  const draftStep = draft ? view.steps.find((s) => s.id === draft.need.step) : undefined;
  const canResend = draft !== null && waitKey(view)?.startsWith(`${draft.need.step}:`);
  const canRerunWith = draft !== null && allowed.has("rerun") && (draftStep?.attempt ?? 0) > 0 && !canResend;

  return (
    <main className="task">
      <div className="title-row">
        <h1>
          <span className="muted">{view.pipeline} v{view.version}</span> <StatusBadge status={view.status} />
        </h1>
        <span className={`live ${live === "retrying" ? "" : "on"}`} aria-live="polite">
          {live === "live" ? "● live" : live === "ended" ? "● live (ended; a rerun would show)" : "○ reconnecting"}
        </span>
      </div>
      <p className="mono small">{view.id}</p>
      <p className="small muted">
        created {when(view.created_at)} · updated {when(view.updated_at)} · revision {view.revision}
        {view.current_step && <> · current step {stepName(view, view.current_step)}</>}
      </p>
      {errorText(view.error) && <p className="error">{errorText(view.error)}</p>}
      {failure && <p className="error" role="alert">{failure}</p>}

      <div className="actions" role="group" aria-label="Task actions">
        {allowed.has("retry") && (
          <button type="button" onClick={() => setAsk({
            title: "Retry the task", confirm: "Retry",
            message: "The failed steps get a new attempt; finished steps stay as they are.",
            run: () => act("retry"),
          })}>Retry</button>
        )}
        {allowed.has("cancel") && (
          <button type="button" className="danger" onClick={() => setAsk({
            title: "Cancel the task", confirm: "Cancel the task", danger: true, reason: true,
            message: "A cancelled task stops for good: nothing more runs and no one can answer it.",
            run: (reason) => act("cancel", reason ? { reason } : {}),
          })}>Cancel task</button>
        )}
      </div>

      {past && (
        <div className="past" role="status">
          <strong>Time travel:</strong> the task as it was after event #{past.at} ({past.event.type}, {when(past.event.at)}).
          <div className="buttons">
            <button type="button" disabled={past.at <= 1} onClick={() => travel(past.at - 1)}>◀ Earlier</button>
            <button type="button" disabled={past.at >= past.revision} onClick={() => travel(past.at + 1)}>Later ▶</button>
            {allowed.has("fork") && (
              <button type="button" onClick={() => setAsk({
                title: "Fork a new task", confirm: "Fork",
                message: `A new task starts from the state after event #${past.at}: finished steps are carried over, the rest runs afresh. This task is not changed.`,
                run: async () => {
                  const forked = await api.control(id, "fork", { at_seq: past.at });
                  navigate(`/task/${forked.id}`);
                },
              })}>Fork from here</button>
            )}
            <button type="button" className="primary" onClick={() => setPast(null)}>Back to live</button>
          </div>
        </div>
      )}

      {draft && !past && (
        <section className="card need" aria-labelledby="need-title">
          <h2 id="need-title">{draft.need.title ?? draft.need.step}</h2>
          {draft.need.description && <p className="description">{draft.need.description}</p>}
          {conflict && (
            <div className="conflict" role="alert" ref={conflictBox} tabIndex={-1}>
              <h3>Someone else answered first</h3>
              <p>{conflict}</p>
              <p>Now {nowWaiting(view)}. What you typed is kept below and was not sent.</p>
              <div className="buttons">
                {canResend && <button type="button" className="primary" onClick={() => submit(draft.data)}>Send my input again</button>}
                {canRerunWith && (
                  <button type="button" onClick={() => setAsk({
                    title: `Rerun ${stepName(view, draft.need.step)} with my input`, confirm: "Rerun with my input",
                    reason: true,
                    message: "The step takes your input at once, and every step after it runs again.",
                    run: async (reason) => {
                      await act("rerun", { step: draft.need.step, input: draft.data, reason: reason ?? "answered again after a conflict" });
                      forgetDraft(id);
                      setConflict(null);
                      setDraft(null);
                    },
                  })}>Rerun the step with my input</button>
                )}
                <button type="button" onClick={discard}>Discard my input</button>
              </div>
            </div>
          )}
          {draft.restored && draft.dirty && !stale && !conflict && (
            <p className="warning" role="status">
              Your edits from before are restored: they are not sent yet.
            </p>
          )}
          {stale && !conflict && (
            <p className="warning" role="status">
              The task has moved on: now {nowWaiting(view)}. Your input is kept; sending it will be refused unless
              the step waits again. <button type="button" className="small" onClick={discard}>Discard it</button>
            </p>
          )}
          <SchemaForm
            key={draft.key}
            idPrefix="input"
            schema={draft.need.schema}
            formData={draft.data}
            errors={formErrors}
            disabled={sending}
            onChange={(data) => setDraft((d) => d && {
              ...d, data, dirty: d.dirty || JSON.stringify(data) !== JSON.stringify(d.need.prefill),
            })}
            onSubmit={submit}
          >
            {formFailure && <p className="error" role="alert">{formFailure}</p>}
            <div className="buttons">
              <button type="submit" className="primary" disabled={sending}>Submit</button>
              {draft.dirty && !conflict && (
                <button type="button" onClick={() => setDraft((d) => d && { ...d, data: d.need.prefill ?? {}, dirty: false })}>
                  Reset to the prefill
                </button>
              )}
            </div>
          </SchemaForm>
        </section>
      )}
      {!draft && !past && view.waiting.length > 0 && (
        <p className="card">The task waits for {view.waiting.map((w) => `“${w.title ?? w.step}”`).join(", ")}, which
          token {me.name} ({me.role}) may not answer.</p>
      )}

      <div className="columns">
        <section className="card" aria-labelledby="graph-title">
          <h2 id="graph-title">Steps</h2>
          {pipeline && <Graph outline={pipeline.steps} steps={shown.steps} selected={selected} onSelect={setSelected} />}
          <StepTable steps={shown.steps} selected={selected} onSelect={setSelected} />
        </section>
        <section className="card" aria-labelledby="step-title">
          <h2 id="step-title">{sel ? `Step ${sel.title ?? sel.id}` : "Step"}</h2>
          {!sel && <p className="muted">Choose a step on the graph or in the table to see it and act on it.</p>}
          {sel && (
            <StepPanel step={sel} events={events} live={!past} allowed={allowed} onAsk={setAsk}
              onRerun={(reason) => act("rerun", { step: sel.id, ...(reason ? { reason } : {}) })}
              onSkip={(reason) => act(`steps/${encodeURIComponent(sel.id)}/skip`, reason ? { reason } : {})} />
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="artifacts-title">
        <h2 id="artifacts-title">Artifacts{past ? ` after event #${past.at}` : ""}</h2>
        <Artifacts taskId={id} artifacts={shownArtifacts} steps={shown.steps} />
      </section>

      <section className="card" aria-labelledby="events-title">
        <h2 id="events-title">Events</h2>
        <Timeline events={events} at={past?.at ?? null} onTravel={travel} view={view} />
      </section>

      <ConfirmDialog ask={ask} onClose={() => setAsk(null)} />
    </main>
  );
}

function StepTable({ steps, selected, onSelect }: { steps: StepView[]; selected: string | null; onSelect: (id: string) => void }) {
  return (
    <div className="table-wrap">
      <table className="steps">
        <thead><tr><th>Step</th><th>Status</th><th>Attempt</th><th>Duration</th></tr></thead>
        <tbody>
          {steps.map((s) => (
            <tr key={s.id} className={s.id === selected ? "selected" : ""}>
              <td>
                <button type="button" className="link" aria-pressed={s.id === selected} onClick={() => onSelect(s.id)}>
                  {s.title ?? s.id}
                </button>
                {s.error && <div className="error small">{errorText(s.error)}</div>}
              </td>
              <td><StatusBadge status={s.status} /></td>
              <td>{s.attempt || ""}</td>
              <td>{duration(s.started_at, s.finished_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function StepPanel({ step, events, live, allowed, onAsk, onRerun, onSkip }: {
  step: StepView;
  events: EventView[];
  live: boolean;
  allowed: Set<string>;
  onAsk: (ask: Ask) => void;
  onRerun: (reason: string | null) => Promise<void>;
  onSkip: (reason: string | null) => Promise<void>;
}) {
  const failures = events.filter((e) => e.step === step.id && e.type === "step_failed");
  const name = step.title ?? step.id;
  return (
    <>
      <dl className="facts">
        <dt>Id</dt><dd className="mono">{step.id}</dd>
        <dt>Kind</dt><dd>{step.type === "wait_user" ? "a person answers" : "automatic"}</dd>
        <dt>Status</dt><dd><StatusBadge status={step.status} /></dd>
        <dt>Attempt</dt><dd>{step.attempt}</dd>
        <dt>Started</dt><dd>{when(step.started_at)}</dd>
        <dt>Finished</dt><dd>{when(step.finished_at)}</dd>
        <dt>Duration</dt><dd>{duration(step.started_at, step.finished_at)}</dd>
        {step.reason && <><dt>Reason</dt><dd>{step.reason}</dd></>}
      </dl>
      {failures.length > 0 && (
        <>
          <h3>Failed attempts</h3>
          <ul className="failures">
            {failures.map((e) => (
              <li key={e.seq}>attempt {e.attempt}, {when(e.at)}: <span className="error">{errorText(e.data.error) ?? "failed"}</span></li>
            ))}
          </ul>
        </>
      )}
      {live && (
        <div className="buttons">
          {allowed.has("rerun") && step.attempt > 0 && (
            <button type="button" onClick={() => onAsk({
              title: `Rerun from “${name}”`, confirm: "Rerun", reason: true,
              message: step.type === "wait_user"
                ? `“${name}” waits again, with its last answer as the prefill; every step after it runs again.`
                : `“${name}” and every step after it run again; their current artifacts become history.`,
              run: onRerun,
            })}>Rerun from this step</button>
          )}
          {allowed.has("skip") && (step.status === "FAILED" || step.status === "WAITING_USER") && (
            <button type="button" onClick={() => onAsk({
              title: `Skip “${name}”`, confirm: "Skip", reason: true, danger: true,
              message: "The step is marked skipped and the steps after it go on without its output.",
              run: onSkip,
            })}>Skip this step</button>
          )}
        </div>
      )}
    </>
  );
}

function Artifacts({ taskId, artifacts, steps }: { taskId: string; artifacts: Artifact[]; steps: StepView[] }) {
  const [all, setAll] = useState(false);
  const order = new Map(steps.map((s, i) => [s.id, i]));
  const title = new Map(steps.map((s) => [s.id, s.title ?? s.id]));
  const list = artifacts
    .filter((a) => all || a.current)
    .sort((a, b) => (order.get(a.step) ?? 0) - (order.get(b.step) ?? 0) || a.generation - b.generation || a.attempt - b.attempt);
  if (!artifacts.length) return <p className="muted">No artifacts yet.</p>;
  return (
    <>
      <label className="inline"><input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Show earlier attempts too</label>
      {list.map((a) => (
        <details key={`${a.step}:${a.generation}:${a.attempt}`} className="artifact" data-step={a.step}>
          <summary>
            <strong>{title.get(a.step)}</strong> <span className="muted">({a.step}) attempt {a.attempt}
            {a.generation > 1 ? `, round ${a.generation}` : ""}{a.current ? "" : ", earlier"} · {bytes(a.size)}</span>
          </summary>
          <div className="buttons">
            <button type="button" className="small" onClick={() => void download(
              `/tasks/${encodeURIComponent(taskId)}/artifacts/${encodeURIComponent(a.step)}?attempt=${a.attempt}`,
              `${a.step}-${a.attempt}${a.kind === "json" ? ".json" : ""}`,
            )}>Download</button>
          </div>
          {a.value !== undefined ? <JsonView value={a.value} /> : <p className="muted">{a.content_type}, {bytes(a.size)}</p>}
        </details>
      ))}
    </>
  );
}

function Timeline({ events, at, onTravel, view }: { events: EventView[]; at: number | null; onTravel: (seq: number) => void; view: TaskView }) {
  const title = new Map(view.steps.map((s) => [s.id, s.title ?? s.id]));
  return (
    <ol className="timeline">
      {events.map((e) => {
        const detail = errorText(e.data.error) ?? (typeof e.data.reason === "string" ? e.data.reason : null);
        return (
          <li key={e.seq} className={e.seq === at ? "at" : ""}>
            <span className="seq">#{e.seq}</span>
            <span className={`etype t-${e.type}`}>{e.type.replace(/_/g, " ")}</span>
            {e.step && <span>{title.get(e.step) ?? e.step}{e.attempt ? ` (attempt ${e.attempt})` : ""}</span>}
            <span className="actor">{e.actor ? `by ${e.actor}` : "by the engine"}</span>
            <time dateTime={e.at} className="muted small">{when(e.at)}</time>
            {detail && <span className="error small">{detail}</span>}
            <button type="button" className="small" onClick={() => onTravel(e.seq)}
              aria-label={`See the task as it was after event ${e.seq}`}>state after</button>
          </li>
        );
      })}
    </ol>
  );
}

import { useEffect, useState } from "react";
import { api, ApiError, type Json, type Me, type PipelineDetail, type PipelineVersion } from "./api";
import { navigate, useLocation } from "./router";
import { SchemaForm } from "./SchemaForm";

export function NewTask({ me }: { me: Me }) {
  const { query } = useLocation();
  const [versions, setVersions] = useState<PipelineVersion[]>([]);
  const [chosen, setChosen] = useState<string>(query.get("pipeline") ?? "");
  const [detail, setDetail] = useState<PipelineDetail | null>(null);
  const [data, setData] = useState<Json>({});
  const [errors, setErrors] = useState<{ pointer: string; message: string }[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api.pipelines().then((all) => {
      setVersions(all);
      if (!chosen && all.length) setChosen(all[0].pipeline);
    }).catch((err) => setFailure(err.message));
  }, []); // eslint-disable-line react-hooks/exhaustive-deps

  const latest = new Map<string, number>();
  for (const v of versions) latest.set(v.pipeline, Math.max(v.version, latest.get(v.pipeline) ?? 0));

  useEffect(() => {
    const version = latest.get(chosen);
    if (!version) return;
    setDetail(null);
    setErrors([]);
    setFailure(null);
    setData({});
    api.pipeline(chosen, version).then(setDetail).catch((err) => setFailure(err.message));
  }, [chosen, versions.length]); // eslint-disable-line react-hooks/exhaustive-deps

  async function start(config: Json) {
    if (!detail) return;
    setBusy(true);
    setErrors([]);
    setFailure(null);
    try {
      const view = await api.start(detail.pipeline, detail.version, config);
      navigate(`/task/${view.id}`);
    } catch (err) {
      if (err instanceof ApiError) {
        setErrors(err.problem.errors ?? []);
        setFailure(err.message);
      } else setFailure(String(err));
    } finally {
      setBusy(false);
    }
  }

  if (me.role === "viewer") {
    return <main><h1>New task</h1><p>Token {me.name} is a viewer: starting tasks needs the operator role.</p></main>;
  }
  const unknown = versions.length > 0 && chosen !== "" && !latest.has(chosen);
  return (
    <main className="narrow">
      <h1>New task</h1>
      <label className="block">Pipeline
        <select value={chosen} onChange={(e) => setChosen(e.target.value)}>
          {unknown && <option value={chosen} disabled>{chosen} (not registered)</option>}
          {[...latest.keys()].map((name) => <option key={name} value={name}>{name} (v{latest.get(name)})</option>)}
        </select>
      </label>
      {detail && (
        <section className="card">
          <h2>{detail.title ?? detail.pipeline}</h2>
          {detail.description && <p className="description">{detail.description}</p>}
          <SchemaForm idPrefix="config" schema={detail.config_schema} formData={data} onChange={setData}
            onSubmit={start} errors={errors} disabled={busy}>
            {failure && <p className="error" role="alert">{failure}</p>}
            <div className="buttons">
              <button type="submit" className="primary" disabled={busy}>Start the task</button>
            </div>
          </SchemaForm>
        </section>
      )}
      {unknown && (
        <p className="error" role="alert">
          This server has no pipeline named “{chosen}”. Choose one of its pipelines above.
        </p>
      )}
      {!detail && failure && <p className="error" role="alert">{failure}</p>}
    </main>
  );
}

import { useCallback, useEffect, useState, type FormEvent } from "react";
import { api, ApiError, getToken, setToken, type Me } from "./api";
import { NewTask } from "./NewTask";
import { Link, useLocation } from "./router";
import { TaskList } from "./TaskList";
import { TaskPage } from "./TaskPage";

function Login({ problem, onToken }: { problem: string | null; onToken: (token: string) => void }) {
  const [token, setValue] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) onToken(token.trim());
  };
  return (
    <main className="login">
      <h1>Sign in</h1>
      <p>This server needs a bearer token. Ask its operator for one (segue token NAME).</p>
      <form onSubmit={submit}>
        <label className="block">Token
          <input type="password" autoComplete="current-password" value={token}
            onChange={(e) => setValue(e.target.value)} autoFocus />
        </label>
        {problem && <p className="error" role="alert">{problem}</p>}
        <button type="submit" className="primary">Sign in</button>
      </form>
    </main>
  );
}

export function App() {
  const { path } = useLocation();
  const [me, setMe] = useState<Me | null>(null);
  const [needLogin, setNeedLogin] = useState<string | null | undefined>(undefined);
  const [failure, setFailure] = useState<string | null>(null);

  const check = useCallback(async () => {
    try {
      setMe(await api.me());
      setNeedLogin(undefined);
      setFailure(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setMe(null);
        setNeedLogin(getToken() ? err.message : null);
      } else setFailure(err instanceof Error ? err.message : String(err));
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  if (needLogin !== undefined) {
    return <Login problem={needLogin} onToken={(token) => { setToken(token); void check(); }} />;
  }
  if (!me) return <main><p className={failure ? "error" : ""}>{failure ?? "Loading…"}</p></main>;

  const task = /^\/task\/([^/]+)$/.exec(path);
  return (
    <>
      <header className="top">
        <Link href="/" className="brand">Segue</Link>
        <nav aria-label="Main">
          <Link href="/">Tasks</Link>
          {me.role !== "viewer" && <Link href="/new">New task</Link>}
        </nav>
        <span className="who" title={me.pipelines ? `pipelines: ${me.pipelines.join(", ")}` : "every pipeline"}>
          {me.name} · {me.role}
          {me.auth && (
            <button type="button" className="small" onClick={() => { setToken(null); void check(); }}>Sign out</button>
          )}
        </span>
      </header>
      {task ? <TaskPage key={task[1]} id={decodeURIComponent(task[1])} me={me} />
        : path === "/new" ? <NewTask me={me} />
        : path === "/" ? <TaskList me={me} />
        : <main><h1>Not found</h1><p>The console has no page {path}. <Link href="/">See the tasks.</Link></p></main>}
    </>
  );
}

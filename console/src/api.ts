// The HTTP API, as the console uses it: one fetch wrapper that adds the token and turns
// problem+json answers into ApiError (with the problem's fields kept for the pages).

const TOKEN_KEY = "segue.token";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail: string;
  errors?: { pointer: string; message: string }[];
  task?: TaskView;
  [key: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail);
    this.status = problem.status;
    this.problem = problem;
  }
  get code(): string {
    return (this.problem.type ?? "").split(":").pop() ?? "";
  }
}

export interface Waiting {
  step: string;
  title: string | null;
  description: string | null;
  schema: JsonObject;
  prefill: Json;
  can_answer?: boolean;
}

export interface StepView {
  id: string;
  type: "auto" | "wait_user";
  title: string | null;
  status: string;
  attempt: number;
  started_at: string | null;
  finished_at: string | null;
  error: { type: string; message: string } | null;
  reason: string | null;
}

export interface TaskView {
  id: string;
  pipeline: string;
  version: number;
  status: string;
  current_step: string | null;
  required_input: Waiting | null;
  waiting: Waiting[];
  steps: StepView[];
  config: JsonObject;
  revision: number;
  created_at: string;
  updated_at: string;
  error: { type?: string; message?: string } | string | null;
  allowed_actions?: string[];
}

export interface EventView {
  seq: number;
  type: string;
  at: string;
  step: string | null;
  attempt: number | null;
  actor: string | null;
  data: JsonObject;
}

export interface Artifact {
  step: string;
  attempt: number;
  kind: string;
  sha256: string;
  size: number;
  content_type: string;
  generation: number;
  current: boolean;
  created_at: string;
  value?: Json;
}

export interface History {
  at: number;
  revision: number;
  event: EventView;
  task: TaskView;
  artifacts: Artifact[];
}

export interface PipelineVersion {
  pipeline: string;
  version: number;
  hash: string;
  registered_at: string;
}

export interface StepOutline {
  id: string;
  type: "auto" | "wait_user";
  title: string | null;
  description: string | null;
  depends_on: string[];
  when: string | null;
}

export interface PipelineDetail extends PipelineVersion {
  title: string | null;
  description: string | null;
  config_schema: JsonObject;
  steps: StepOutline[];
}

export interface Me {
  name: string;
  role: "viewer" | "operator" | "admin";
  roles: string[];
  pipelines: string[] | null;
  auth: boolean;
}

export interface FileRef {
  sha256: string;
  size: number;
  filename: string;
  document: { sha256: string; filename: string };
}

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.detail === "string") return { ...body, status: response.status };
  } catch {
    // not JSON: fall through to a sentence of our own
  }
  return {
    status: response.status,
    detail: `The server answered ${response.status} ${response.statusText || ""}`.trim() + ".",
  };
}

export async function request<T>(
  path: string,
  init: { method?: string; json?: unknown; body?: BodyInit; headers?: Record<string, string> } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders(), ...init.headers };
  let body = init.body;
  if (init.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(init.json);
  }
  let response: Response;
  try {
    response = await fetch(path, { method: init.method ?? "GET", headers, body });
  } catch {
    throw new ApiError({ status: 0, detail: "The server cannot be reached; check that segue serve runs." });
  }
  if (!response.ok) throw new ApiError(await problemOf(response));
  return (await response.json()) as T;
}

export const api = {
  me: () => request<Me>("/me"),
  pipelines: () => request<PipelineVersion[]>("/pipelines"),
  pipeline: (name: string, version: number) =>
    request<PipelineDetail>(`/pipelines/${encodeURIComponent(name)}/versions/${version}`),
  tasks: (query: URLSearchParams) =>
    request<{ tasks: TaskView[]; next_cursor: string | null }>(`/tasks?${query}`),
  counts: (pipeline: string | null) =>
    request<{ counts: Record<string, number>; total: number }>(
      `/tasks/counts${pipeline ? `?pipeline=${encodeURIComponent(pipeline)}` : ""}`,
    ),
  task: (id: string) => request<TaskView>(`/tasks/${encodeURIComponent(id)}`),
  start: (pipeline: string, version: number, config: Json) =>
    request<TaskView>("/tasks", { method: "POST", json: { pipeline, version, config } }),
  advance: (id: string, step: string, input: Json) =>
    request<TaskView>(`/tasks/${encodeURIComponent(id)}/advance`, { method: "POST", json: { step, input } }),
  artifacts: (id: string) => request<Artifact[]>(`/tasks/${encodeURIComponent(id)}/artifacts?all_attempts=true`),
  history: (id: string, at: number) => request<History>(`/tasks/${encodeURIComponent(id)}/history?at=${at}`),
  control: (id: string, action: string, json?: unknown) =>
    request<TaskView>(`/tasks/${encodeURIComponent(id)}/${action}`, { method: "POST", json: json ?? {} }),
  upload: (file: File) =>
    request<FileRef>(`/files?filename=${encodeURIComponent(file.name)}`, {
      method: "POST",
      body: file,
      headers: { "Content-Type": "application/octet-stream" },
    }),
};

/** Download a URL with the token (a plain link could not send it) under ``filename``. */
export async function download(path: string, filename: string): Promise<void> {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) throw new ApiError(await problemOf(response));
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Follow a task's Server-Sent Events with fetch (EventSource cannot send a bearer token).
// The stream resumes after the last event seen; once the server ends it (the task finished)
// it is opened again now and then, because a rerun can reopen a finished task.

import { authHeaders, type EventView } from "./api";

const RETRY_MS = 2000;
const ENDED_MS = 4000;

export function followTask(
  id: string,
  onEvents: (events: EventView[]) => void,
  onState: (state: "live" | "ended" | "retrying") => void,
): () => void {
  const abort = new AbortController();
  let last = 0;
  let quiet = false; // the last stream ended with the task: say "live" again only on news

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      abort.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });

  async function once(): Promise<boolean> {
    const headers: Record<string, string> = { Accept: "text/event-stream", ...authHeaders() };
    if (last) headers["Last-Event-ID"] = String(last);
    const response = await fetch(`/tasks/${encodeURIComponent(id)}/stream`, { headers, signal: abort.signal });
    if (!response.ok || !response.body) return false;
    if (!quiet) onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      buffer += value;
      const blocks = buffer.split(/\r?\n\r?\n/);
      buffer = blocks.pop() ?? "";
      const batch: EventView[] = [];
      for (const block of blocks) {
        const data = block
          .split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (!data) continue;
        const event = JSON.parse(data) as EventView;
        if (event.seq > last) {
          last = event.seq;
          batch.push(event);
        }
      }
      if (batch.length) {
        quiet = false;
        onState("live");
        onEvents(batch);
      }
    }
  }

  (async () => {
    while (!abort.signal.aborted) {
      let ended = false;
      try {
        ended = await once();
      } catch {
        ended = false;
      }
      if (abort.signal.aborted) break;
      quiet = ended;
      onState(ended ? "ended" : "retrying");
      await sleep(ended ? ENDED_MS : RETRY_MS);
    }
  })();

  return () => abort.abort();
}

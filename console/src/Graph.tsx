// The pipeline's DAG, drawn by Mermaid (loaded only when a task page needs it), each step
// coloured and labelled with its state, attempt and duration. A node is a button: clicking
// it (or Enter on it) selects that step for the operator actions.

import { useEffect, useId, useRef, useState } from "react";
import type { StepOutline, StepView } from "./api";
import { duration, statusLabel } from "./format";

const COLOURS: Record<string, string> = {
  PENDING: "fill:#f3f4f6,stroke:#9ca3af,color:#374151",
  READY: "fill:#e0f2fe,stroke:#0284c7,color:#0c4a6e",
  RUNNING: "fill:#dbeafe,stroke:#2563eb,color:#1e3a8a",
  WAITING_USER: "fill:#fef3c7,stroke:#d97706,color:#78350f",
  COMPLETED: "fill:#dcfce7,stroke:#16a34a,color:#14532d",
  SKIPPED: "fill:#f5f5f4,stroke:#a8a29e,color:#57534e,stroke-dasharray:4 3",
  FAILED: "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
  CANCELLED: "fill:#e5e7eb,stroke:#6b7280,color:#374151",
};

function escapeLabel(text: string): string {
  return text.replace(/[&<>"#]/g, (c) => `#${c.charCodeAt(0)};`);
}

export function mermaidText(outline: StepOutline[], steps: StepView[], selected: string | null): string {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const node = new Map(outline.map((s, i) => [s.id, `s${i}`]));
  const lines = ["flowchart TD"];
  for (const step of outline) {
    const state = byId.get(step.id);
    const parts = [escapeLabel(step.title ?? step.id)];
    if (state) {
      const facts = [statusLabel(state.status)];
      if (state.attempt > 1) facts.push(`attempt ${state.attempt}`);
      const took = duration(state.started_at, state.finished_at);
      if (took && state.finished_at) facts.push(took);
      parts.push(escapeLabel(facts.join(" · ")));
    }
    const label = `"${parts.join("<br/>")}"`;
    const id = node.get(step.id)!;
    lines.push(step.type === "wait_user" ? `  ${id}([${label}])` : `  ${id}[${label}]`);
  }
  for (const step of outline) {
    for (const dep of step.depends_on) {
      if (node.has(dep)) lines.push(`  ${node.get(dep)} ${step.when ? "-. when .->" : "-->"} ${node.get(step.id)}`);
    }
  }
  for (const [status, style] of Object.entries(COLOURS)) lines.push(`  classDef ${status} ${style}`);
  lines.push("  classDef selected stroke-width:4px");
  for (const step of outline) {
    const status = byId.get(step.id)?.status ?? "PENDING";
    lines.push(`  class ${node.get(step.id)} ${status}`);
  }
  // A comma in "class" separates node ids, not classes: the selection is a line of its own.
  const chosen = selected === null ? undefined : node.get(selected);
  if (chosen) lines.push(`  class ${chosen} selected`);
  return lines.join("\n");
}

let ready: Promise<typeof import("mermaid").default> | null = null;

function loadMermaid() {
  ready ??= import("mermaid").then(({ default: mermaid }) => {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: "neutral",
      fontFamily: "system-ui, 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', sans-serif",
      flowchart: { htmlLabels: true, useMaxWidth: true, wrappingWidth: 280 },
    });
    return mermaid;
  });
  return ready;
}

export function Graph({ outline, steps, selected, onSelect }: {
  outline: StepOutline[];
  steps: StepView[];
  selected: string | null;
  onSelect: (step: string) => void;
}) {
  const box = useRef<HTMLDivElement>(null);
  const renderId = useId().replace(/[^a-zA-Z0-9]/g, "");
  const [failure, setFailure] = useState<string | null>(null);
  const text = mermaidText(outline, steps, selected);
  const select = useRef(onSelect);
  select.current = onSelect;

  useEffect(() => {
    let stale = false;
    loadMermaid()
      .then((mermaid) => mermaid.render(`graph${renderId}`, text))
      .then(({ svg }) => {
        if (stale || !box.current) return;
        box.current.innerHTML = svg;
        box.current.querySelectorAll<SVGGElement>("g.node").forEach((g) => {
          const match = /flowchart-s(\d+)-/.exec(g.id);
          const step = match ? outline[Number(match[1])] : undefined;
          if (!step) return;
          const state = steps.find((s) => s.id === step.id);
          g.dataset.step = step.id;
          g.setAttribute("tabindex", "0");
          g.setAttribute("role", "button");
          g.setAttribute("aria-pressed", String(step.id === selected));
          g.setAttribute("aria-label", `${step.title ?? step.id}: ${statusLabel(state?.status ?? "PENDING")}`);
          g.style.cursor = "pointer";
          g.addEventListener("click", () => select.current(step.id));
          g.addEventListener("keydown", (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              select.current(step.id);
            }
          });
        });
        setFailure(null);
      })
      .catch((err) => !stale && setFailure(`The graph could not be drawn: ${err?.message ?? err}`));
    return () => {
      stale = true;
    };
  }, [text]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <figure className="graph">
      <div ref={box} className="graph-svg" aria-label="The pipeline's steps as a graph" />
      {failure && <p className="error">{failure}</p>}
    </figure>
  );
}

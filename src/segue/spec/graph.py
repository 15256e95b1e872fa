"""Draw a pipeline's DAG as Mermaid or Graphviz DOT text."""

from __future__ import annotations

from collections.abc import Mapping

from segue.spec.model import PipelineSpec, StepKind


def to_mermaid(spec: PipelineSpec, states: Mapping[str, str] | None = None) -> str:
    """Return a Mermaid flowchart; wait steps are drawn as rounded boxes.

    ``states`` (step id -> status) adds each step's status to its label.
    """
    lines = ["flowchart TD"]
    for step in spec.steps:
        label = step.title or step.id
        if states and step.id in states:
            label = f"{label}<br/>{states[step.id]}"
        label = label.replace('"', "'")
        shape = f'(["{label}"])' if step.kind is StepKind.WAIT_USER else f'["{label}"]'
        lines.append(f"    {step.id}{shape}")
    for step in spec.steps:
        for dep in step.depends_on:
            arrow = "-- when -->" if step.when else "-->"
            lines.append(f"    {dep} {arrow} {step.id}")
    return "\n".join(lines) + "\n"


def to_dot(spec: PipelineSpec) -> str:
    """Return a Graphviz digraph of the pipeline."""
    lines = [f'digraph "{spec.name}_v{spec.version}" {{', "    rankdir=TB;"]
    for step in spec.steps:
        shape = "box, style=rounded" if step.kind is StepKind.WAIT_USER else "box"
        label = (step.title or step.id).replace('"', "'")
        lines.append(f'    {step.id} [label="{label}", shape={shape}];')
    for step in spec.steps:
        for dep in step.depends_on:
            style = ' [style=dashed, label="when"]' if step.when else ""
            lines.append(f"    {dep} -> {step.id}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"

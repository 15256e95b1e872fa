"""Pipeline definitions: loading, validation, expressions and graphs."""

from segue.spec.graph import to_dot, to_mermaid
from segue.spec.load import content_hash, load_pipeline, parse_duration
from segue.spec.model import PipelineSpec, RetryPolicy, StepKind, StepSpec

__all__ = [
    "PipelineSpec",
    "RetryPolicy",
    "StepKind",
    "StepSpec",
    "content_hash",
    "load_pipeline",
    "parse_duration",
    "to_dot",
    "to_mermaid",
]

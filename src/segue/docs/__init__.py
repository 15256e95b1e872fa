"""The document pipeline: read a file, draft its outline, split it, embed the sections.

``model`` holds the shapes every part shares; ``formats`` turns uploaded bytes
into a :class:`~segue.docs.model.Document`; ``outline`` drafts its outline;
``split`` cuts the text by the final outline; ``embed`` turns sections into
vectors; ``handlers`` are the pipeline's steps.
"""

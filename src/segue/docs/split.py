"""Cut a document's text into sections by its final outline.

Each outline entry is located by its ``anchor`` (the heading's line exactly as
in the text) and, failing that, by its ``title``, compared loosely: case,
whitespace, markup characters and leading numbering ("1.2", "第一章", "IV.")
are ignored, so a person who renames "1.2 Scope" to "Scope" or drops an
anchor still finds the section. Repeated titles are told apart by position:
each entry takes the first match after the entry before it, so the third
"Added" of a changelog is the third occurrence. An entry moved out of order
takes the first unused match anywhere. Sections come out in document order;
each runs from its heading to the next located heading.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NUMBERING = re.compile(
    r"""^(?:
        (?:chapter|part|book|section|appendix)\s+[\divxlc]+[.:]?\s+   # CHAPTER IV, Part 2
      | \d+(?:\.\d+)*\.?\s+                                          # 1  1.2  1.2.3.
      | [A-Za-z]\.\s+                                                # A.
      | [IVXLC]+\.\s+                                                # IV.
      | 第[0-9〇零一二三四五六七八九十百千两]+[章节回部篇卷][\s:：、]*     # 第一章
      | [一二三四五六七八九十]+、\s*                                    # 一、
      | [（(][一二三四五六七八九十\d]+[)）]\s*                           # （一）
    )""",
    re.VERBOSE | re.IGNORECASE,
)
_MARKUP = re.compile(r"\{\s*#[^}]*\}|[#*_`=~^\"'\[\]{}<>|\\]+")
_SPACE = re.compile(r"\s+")


def title_key(text: str) -> str:
    """A loose form of a title for matching: no case, markup, numbering or extra spaces."""
    key = unicodedata.normalize("NFKC", text).casefold()
    key = _MARKUP.sub(" ", key)
    key = _SPACE.sub(" ", key).strip(" .:-–—")
    stripped = _NUMBERING.sub("", key, count=1).strip(" .:-–—")
    return stripped or key


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the split document."""

    id: str
    title: str
    level: int
    path: tuple[str, ...]
    start: int
    end: int
    text: str

    def as_json(self) -> dict[str, Any]:
        """The artifact form of the section."""
        return {
            "id": self.id,
            "title": self.title,
            "level": self.level,
            "path": list(self.path),
            "start": self.start,
            "end": self.end,
            "chars": self.end - self.start,
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class Split:
    """The sections found, the entries that were not, and the text before the first."""

    sections: tuple[Section, ...]
    unlocated: tuple[dict[str, Any], ...]
    preamble_chars: int


class LineIndex:
    """Where each line of the text starts, indexed by exact and by loose content."""

    def __init__(self, text: str) -> None:
        self.by_exact: dict[str, list[int]] = defaultdict(list)
        self._by_key: dict[str, list[int]] | None = None
        self._raw: list[tuple[int, str]] = []
        offset = 0
        for line in text.split("\n"):
            stripped = line.strip()
            if stripped:
                start = offset + (len(line) - len(line.lstrip()))
                self.by_exact[stripped].append(start)
                self._raw.append((start, stripped))
            offset += len(line) + 1

    def starting_with(self, prefix: str) -> list[int]:
        """Starts of the lines that begin with ``prefix``."""
        return [start for start, stripped in self._raw if stripped.startswith(prefix)]

    @property
    def by_key(self) -> dict[str, list[int]]:
        """Line starts by :func:`title_key` (built on first use: only titles need it)."""
        if self._by_key is None:
            index: dict[str, list[int]] = defaultdict(list)
            for start, stripped in self._raw:
                if len(stripped) <= 300:
                    index[title_key(stripped)].append(start)
            self._by_key = index
        return self._by_key


def _pick(candidates: Sequence[int], after: int, used: set[int]) -> int | None:
    """The first unused candidate after ``after``, else the first unused one."""
    i = bisect.bisect_right(candidates, after)
    for pos in (*candidates[i:], *candidates[:i]):
        if pos not in used:
            return pos
    return None


def locate(entry: Mapping[str, Any], lines: LineIndex, after: int, used: set[int]) -> int | None:
    """Where ``entry`` (title, anchor) starts: by anchor, then by title; None if nowhere."""
    anchor = str(entry.get("anchor") or "").strip()
    if anchor and (found := _pick(lines.by_exact.get(anchor, ()), after, used)) is not None:
        return found
    key = title_key(str(entry.get("title", "")))
    if not key:
        return None
    found = _pick(lines.by_key.get(key, ()), after, used)
    if found is None and anchor:
        found = _pick(lines.by_key.get(title_key(anchor), ()), after, used)
    if found is None and len(anchor) >= 8:  # a long first line, cut short
        found = _pick(lines.starting_with(anchor), after, used)
    return found


def split_text(text: str, directory: Sequence[Mapping[str, Any]], *, whole_title: str) -> Split:
    """Split ``text`` by the outline ``directory`` (entries with title, level, anchor).

    An empty outline gives one section, titled ``whole_title``, holding all the text.
    """
    if not directory:
        whole = Section("s1", whole_title, 1, (), 0, len(text), text)
        return Split((whole,), (), 0)
    lines = LineIndex(text)
    located: list[tuple[int, Mapping[str, Any]]] = []
    unlocated: list[dict[str, Any]] = []
    used: set[int] = set()
    after = -1
    for index, entry in enumerate(directory):
        pos = locate(entry, lines, after, used)
        if pos is None:
            unlocated.append({"index": index, "title": entry.get("title"), **_anchor(entry)})
            continue
        used.add(pos)
        located.append((pos, entry))
        after = pos
    located.sort(key=lambda item: item[0])
    return Split(_sections(text, located), tuple(unlocated), located[0][0] if located else 0)


def _anchor(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"anchor": entry["anchor"]} if entry.get("anchor") else {}


def _sections(text: str, located: Sequence[tuple[int, Mapping[str, Any]]]) -> tuple[Section, ...]:
    sections: list[Section] = []
    parents: list[tuple[int, str]] = []  # (level, title) of the open ancestors
    for n, (start, entry) in enumerate(located):
        end = located[n + 1][0] if n + 1 < len(located) else len(text)
        title, level = str(entry["title"]), int(entry.get("level", 1))
        while parents and parents[-1][0] >= level:
            parents.pop()
        path = tuple(t for _, t in parents)
        sections.append(Section(f"s{n + 1}", title, level, path, start, end, text[start:end]))
        parents.append((level, title))
    return tuple(sections)

"""Prompts are files in ``prompts/``, loaded by name, their placeholders checked at load time.

A prompt file has a ``# system`` section and a ``# user`` section; ``{name}`` placeholders are
filled with ``str.format`` (write ``{{`` for a literal brace). A prompt change is a reviewable
diff of a text file, not an edit buried in code.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from assistant.errors import AssistantError
from assistant.llm import Message

#: Where prompt files live: inside the wheel (``assistant/_prompts``), else the repo's ``prompts/``.
_PACKAGE_DIR = Path(__file__).resolve().parent / "_prompts"
_REPO_DIR = Path(__file__).resolve().parent.parent / "prompts"


def prompts_dir() -> Path:
    """The directory prompt files are read from."""
    return _PACKAGE_DIR if _PACKAGE_DIR.is_dir() else _REPO_DIR


@dataclass(frozen=True)
class PromptTemplate:
    """A system and a user template with a known set of placeholders."""

    name: str
    system: str
    user: str
    fields: frozenset[str]

    def render(self, **values: str) -> list[Message]:
        """Chat messages with every placeholder filled (all of them, no more)."""
        given = set(values)
        if given != self.fields:
            raise AssistantError(
                f"prompt {self.name!r} needs {sorted(self.fields)}, got {sorted(given)}."
            )
        return [
            Message(role="system", content=self.system.format(**values).strip()),
            Message(role="user", content=self.user.format(**values).strip()),
        ]


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


@cache
def load_prompt(name: str, fields: frozenset[str]) -> PromptTemplate:
    """Read ``prompts/<name>.md`` and check it uses exactly ``fields`` as placeholders."""
    path = prompts_dir() / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AssistantError(f"prompt file {path} cannot be read: {exc.strerror}.") from None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.strip().lower() in ("# system", "# user"):
            current = sections.setdefault(line.strip()[2:].lower(), [])
        elif current is not None:
            current.append(line)
    if set(sections) != {"system", "user"}:
        raise AssistantError(f"prompt file {path} needs a '# system' and a '# user' section.")
    system, user = ("\n".join(sections[k]).strip() for k in ("system", "user"))
    try:
        found = _placeholders(system) | _placeholders(user)
    except ValueError as exc:
        hint = "write {{ for a literal brace"
        raise AssistantError(f"prompt file {path}: {exc} ({hint}).") from None
    if found != fields:
        raise AssistantError(
            f"prompt file {path} uses placeholders {sorted(found)}, expected {sorted(fields)}."
        )
    return PromptTemplate(name=name, system=system, user=user, fields=fields)

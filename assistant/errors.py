"""One exception family for everything a user can run into.

Messages say what went wrong and what to do; the CLI prints them without a traceback.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error the assistant reports to a person."""


class InputError(AssistantError):
    """A file, question or option the user gave cannot be used as it is."""


class SettingsError(InputError):
    """A setting is unknown (a misspelt ``ASSISTANT_...`` name, say) or its value is invalid."""


class StoreError(AssistantError):
    """The Chroma store cannot be opened, read or written."""


class ModelError(AssistantError):
    """An embedding or language model cannot be found, loaded or reached."""

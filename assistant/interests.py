"""A user's interests and saved papers, kept in one small file beside the store.

``<store_dir>/interests.json`` holds the named interests (phrases, "not" phrases, seed
papers) and the collections of saved papers ("starred" by default). It is JSON a person can
read and edit: papers are kept by id with their titles. Every change takes the file's lock,
reads it, changes it and writes it whole (``files.write_atomic``), so the app and a cron job
can change it at once without losing either change. A file that is not valid is reported
with its line and never overwritten.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from assistant.errors import InputError
from assistant.files import file_lock, write_atomic
from assistant.models import Paper
from assistant.models.interests import STARRED, Collection, Interest, PaperRef, Profile
from assistant.settings import Settings
from assistant.store import open_store

FILE_NAME = "interests.json"
Model = TypeVar("Model", Interest, Collection)


def profile_path(settings: Settings) -> Path:
    """Where the interests and collections are kept: ``<store_dir>/interests.json``."""
    return settings.store_dir.expanduser().resolve() / FILE_NAME


def load_profile(settings: Settings) -> Profile:
    """The saved interests and collections (empty when none was ever saved)."""
    path = profile_path(settings)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Profile()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read ({exc}).") from None
    try:
        return Profile.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise InputError(
            f"{path}: {where}: {first['msg']} (fix or remove the file; it is left as it is)."
        ) from None


@contextlib.contextmanager
def changing_profile(settings: Settings) -> Iterator[Profile]:
    """The profile to change in place; written whole when the block ends without an error.

    The file's lock is held meanwhile, so two processes changing it never lose a change."""
    path = profile_path(settings)
    busy = "another process is changing the interests; try again in a moment"
    with file_lock(path.with_name(f".{FILE_NAME}.lock"), timeout=30, busy=busy):
        profile = load_profile(settings)
        yield profile
        write_atomic(path, profile.model_dump_json(indent=2, by_alias=True) + "\n")


def _refs(papers: Sequence[Paper]) -> list[PaperRef]:
    return [PaperRef(id=p.id, title=p.title) for p in papers]


def _checked(make: type[Model], **fields: object) -> Model:
    """``make`` built from ``fields``; its validation errors as one InputError."""
    try:
        return make.model_validate(fields)
    except ValidationError as exc:
        messages = (e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise InputError("; ".join(messages)) from None


# --- interests ------------------------------------------------------------------------------------


def add_interest(
    settings: Settings,
    name: str,
    *,
    phrases: Sequence[str] = (),
    negatives: Sequence[str] = (),
    seeds: Sequence[str] = (),
    replace: bool = False,
) -> Interest:
    """Add (or, with ``replace``, overwrite) an interest; seeds are paper ids or arXiv ids."""
    papers = open_store(settings).find(seeds) if seeds else []
    interest = _checked(
        Interest, name=name, phrases=list(phrases), negatives=list(negatives), seeds=_refs(papers)
    )
    if not interest.phrases and not interest.seeds:
        raise InputError(f"interest {interest.name!r} needs a --phrase or a --seed to rank by.")
    with changing_profile(settings) as profile:
        old = profile.interest(interest.name)
        if old is not None and not replace:
            raise InputError(
                f"an interest named {old.name!r} exists; remove it first or pass --replace."
            )
        profile.interests = [i for i in profile.interests if i is not old] + [interest]
    return interest


def _named_interest(profile: Profile, name: str) -> Interest:
    found = profile.interest(name)
    if found is None:
        raise _unknown("interest", name, [i.name for i in profile.interests], "interest add")
    return found


def _named_collection(profile: Profile, name: str) -> Collection:
    found = profile.collection(name)
    if found is None:
        raise _unknown("collection", name, [c.name for c in profile.collections], "saved add ID")
    return found


def _unknown(what: str, name: str, names: Sequence[str], command: str) -> InputError:
    saved = ", ".join(names) or "none yet"
    return InputError(
        f"no {what} named {name!r} (saved: {saved}); add one with 'assistant {command}'."
    )


def get_interest(settings: Settings, name: str) -> Interest:
    """One interest by name (any case); an InputError listing the names otherwise."""
    return _named_interest(load_profile(settings), name)


def interest_to_rank(settings: Settings, name: str) -> Interest:
    """The saved interest as the ranker takes it: the papers saved in a collection of its
    name join its seeds (the ranker learns from both, and a why may name either)."""
    profile = load_profile(settings)
    interest = _named_interest(profile, name)
    saved = profile.collection(interest.name)
    if saved is None:
        return interest
    seeds = {s.id: s for s in [*interest.seeds, *saved.papers]}
    return interest.model_copy(update={"seeds": list(seeds.values())})


def remove_interest(settings: Settings, name: str) -> Interest:
    """Remove an interest; the removed one."""
    with changing_profile(settings) as profile:
        interest = _named_interest(profile, name)
        profile.interests = [i for i in profile.interests if i is not interest]
    return interest


# --- saved papers ---------------------------------------------------------------------------------


def save_papers(settings: Settings, keys: Sequence[str], collection: str = STARRED) -> Collection:
    """Add papers (ids or arXiv ids) to a collection, creating it; the collection."""
    papers = open_store(settings).find(keys)
    with changing_profile(settings) as profile:
        found = profile.collection(collection)
        if found is None:
            found = _checked(Collection, name=collection)
            profile.collections.append(found)
        known = set(found.ids)
        found.papers.extend(r for r in _refs(papers) if r.id not in known)
    return found


def unsave_papers(settings: Settings, ids: Sequence[str], collection: str = STARRED) -> Collection:
    """Take papers out of a collection (by id); the collection."""
    gone = set(ids)
    with changing_profile(settings) as profile:
        found = _named_collection(profile, collection)
        found.papers = [p for p in found.papers if p.id not in gone]
    return found


def get_collection(settings: Settings, name: str = STARRED) -> Collection:
    """One collection by name; an InputError listing the names otherwise."""
    return _named_collection(load_profile(settings), name)


def remove_collection(settings: Settings, name: str) -> Collection:
    """Remove a whole collection; the removed one."""
    with changing_profile(settings) as profile:
        found = _named_collection(profile, name)
        profile.collections = [c for c in profile.collections if c is not found]
    return found


def collection_papers(settings: Settings, name: str = STARRED) -> list[Paper]:
    """The papers of a collection as stored now (papers no longer in the store left out)."""
    ids = get_collection(settings, name).ids
    found = open_store(settings).by_ids(ids)
    return [found[i][0] for i in ids if i in found]

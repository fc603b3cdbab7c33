"""Safe, atomic outputs: lnn-edge never deletes or overwrites what it did not write.

The rule, for every verb that writes:

- A file output is written beside its target and renamed onto it only when complete. It may replace an
  existing file only if that file is one lnn-edge wrote (each caller says how to recognise its own kind, see
  :mod:`lnn_edge.outputs`). An existing folder is never replaced by a file.
- A folder output is written into a new folder, or into an empty one. It may go into an existing folder only if
  that folder holds a manifest that lnn-edge wrote (``format`` and ``files``); then exactly the files listed in
  the manifest are replaced or removed, and every other file in the folder is left alone. A non-empty folder
  without such a manifest is refused. There is no option that deletes unknown files. Where the manifest records
  each file's SHA-256 (an export's does), a listed file whose bytes no longer match was edited after lnn-edge
  wrote it (an example or a build file a user adapted): the folder is refused until the user moves it out. A
  manifest names plain files, or files in the few folders an export may hold (:data:`SUBDIRS`: ``lnn/``, the
  runtime library, and the folders of a build-system layout), and nothing else; those folders must then be real
  folders, never links.
- The target never goes missing: a new folder appears with one rename; an existing one is updated file by file
  (each an atomic rename), with the old manifest kept until the new one replaces it last. A run killed half-way
  leaves a folder whose files do not match its manifest, which every reader refuses, and which the next run may
  replace because the manifest still marks it as lnn-edge's.
- Staging folders carry a marker file. The next run removes leftover staging folders of the same target, and
  only those that carry the marker.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from lnn_edge.errors import LnnEdgeError

STAGING_MARKER = ".lnn-edge-staging"
"""File inside every staging folder: only folders that hold it are ever removed as leftovers."""
PENDING_FILE = ".lnn-edge-pending.json"
"""Names being moved into an owned folder; they count as lnn-edge's until the new manifest lands."""
MAX_MANIFEST_BYTES = 1 << 20
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")
"""What an owned file may be called: a plain name in the folder, no path, not hidden."""
SUBDIR = "lnn"
"""The subfolder of an export's runtime library."""
SUBDIRS = (SUBDIR, "zephyr", "src", f"src/{SUBDIR}", f"examples/{SAFE_NAME.pattern}")
"""The only folders (patterns) an owned folder may hold files in: the runtime library, and the folders of the
build-system layouts (a Zephyr module's ``zephyr/``, an Arduino library's ``src/``, ``src/lnn/`` and
``examples/<sketch>/``)."""
SAFE_PATH = re.compile(rf"(?:(?:{'|'.join(SUBDIRS)})/)?{SAFE_NAME.pattern}")
"""What a manifest may list: a plain name, or one of :data:`SUBDIRS` and a plain name. Never ``..``, an absolute
path, another folder or a deeper one, so a hand-edited manifest cannot make lnn-edge replace or delete a file
elsewhere."""


class OutputError(LnnEdgeError):
    """An output path that lnn-edge refuses to write, because it would overwrite something not its own."""


Recogniser = Callable[[Path], bool]


def _default_mode(directory: bool) -> int:
    """The permissions a plain open()/mkdir() would give (mkstemp/mkdtemp use 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _display(path: Path) -> str:
    return str(path) if str(path) not in ("", ".") else f"{path.resolve()} (the current folder)"


def _check_parents(target: Path, kind: str) -> None:
    """Refuse an output whose folder cannot exist because part of its path is a file: found now, with one clear
    sentence, rather than as a traceback from mkdir after the work is done."""
    for folder in target.parents:
        if folder.is_dir():
            return
        if folder.exists() or folder.is_symlink():
            raise OutputError(f"{folder} is a file, not a folder, so the {kind} {target} cannot be written inside "
                              "it: give a path whose folders are folders")  # fmt: skip


# --- files ------------------------------------------------------------------------------------------------


def check_file_target(path: str | os.PathLike[str], kind: str, is_own: Recogniser | None) -> Path:
    """Refuse a file output that would replace a folder, or a file that lnn-edge did not write."""
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise OutputError(f"{_display(target)} is a folder, not a file name: give a file name for the {kind}")
    if target.is_dir():
        raise OutputError(f"{target} is a folder: give a file name for the {kind} (lnn-edge never replaces a folder "
                          "with a file)")  # fmt: skip
    _check_parents(target, kind)
    exists = target.exists() or target.is_symlink()
    if exists and (not target.is_file() or is_own is None or not _safely(is_own, target)):
        raise OutputError(f"{target} already exists and is not a {kind} that lnn-edge wrote: lnn-edge will not "
                          "overwrite it; pick another name, or move the file away yourself")  # fmt: skip
    return target


def _safely(is_own: Recogniser, path: Path) -> bool:
    try:
        return bool(is_own(path))
    except Exception:  # a recogniser that cannot read the file has not recognised it
        return False


@contextlib.contextmanager
def atomic_file(
    path: str | os.PathLike[str], suffix: str = "", kind: str = "file", is_own: Recogniser | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    ``path`` may already exist only as a file that ``is_own`` recognises as lnn-edge's (see the module rule).
    """
    target = check_file_target(path, kind, is_own)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _default_mode(directory=False))
        check_file_target(target, kind, is_own)  # again: it may have appeared while the block ran
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


# --- folders ----------------------------------------------------------------------------------------------


def read_owned_files(directory: Path, manifest: str, fmt: str) -> set[str] | None:
    """The files that ``directory/manifest`` says lnn-edge wrote there, or None when it holds no such manifest.

    A manifest counts only if it is a regular file, a JSON object of format ``fmt`` whose ``files`` (an object
    or a list) names only plain files. Names being moved in by a run that was killed count too.
    """
    path = directory / manifest
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != fmt:
        return None
    files = data.get("files")
    if not isinstance(files, dict | list) or not all(isinstance(n, str) and SAFE_PATH.fullmatch(n) for n in files):
        return None
    return {manifest, *files, *_pending_names(directory)}


def edited_files(directory: Path, manifest: str) -> list[str]:
    """The files ``directory/manifest`` lists with a SHA-256 (as an export's manifest does) whose bytes no longer
    match it: edited since lnn-edge wrote them. A missing file is not edited (nothing to lose), nor is one a
    killed run was moving in (the pending list): those bytes are lnn-edge's new ones."""
    try:
        data = json.loads((directory / manifest).read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return []
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return []
    pending = set(_pending_names(directory))
    edited = []
    for name, digest in sorted(files.items()):
        path = directory / name
        if not (isinstance(digest, str) and SHA256_HEX.fullmatch(digest) and SAFE_PATH.fullmatch(name)):
            continue
        if name in pending or path.is_symlink() or not path.is_file():
            continue
        if file_sha256(path) != digest:
            edited.append(name)
    return edited


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex (read in blocks: a data file may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _pending_names(directory: Path) -> list[str]:
    path = directory / PENDING_FILE
    if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_MANIFEST_BYTES:
        return []
    try:
        names = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return []
    if not isinstance(names, list):
        return []
    return [n for n in names if isinstance(n, str) and SAFE_PATH.fullmatch(n)]


def _is_staging(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and (path / STAGING_MARKER).is_file()


def _remove_leftovers(folder: Path, prefix: str) -> None:
    """Remove staging folders named ``prefix*.tmp`` in ``folder`` that a killed run left, and only those."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and _is_staging(entry):
            shutil.rmtree(entry, ignore_errors=True)


def _new_staging(folder: Path, prefix: str) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=folder))
    (staging / STAGING_MARKER).write_text("lnn-edge staging folder: safe to delete\n")
    return staging


def check_dir_target(path: str | os.PathLike[str], manifest: str, fmt: str, kind: str) -> set[str]:
    """Refuse a folder output that would touch anything lnn-edge did not write; return the files it owns there
    (empty for a new or empty folder)."""
    target = Path(path)
    if target.is_symlink() and not target.is_dir():
        raise OutputError(f"{target} is a link to nothing: give the {kind} a new folder name")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} is a file, not a folder: give the {kind} a new folder name (lnn-edge never "
                          "replaces a file with a folder)")  # fmt: skip
    if not target.exists():
        _check_parents(target, kind)
        return set()
    entries = [e for e in target.iterdir() if not (e.name.startswith(".lnn-edge-") and _is_staging(e))]
    if not entries:
        return set()
    owned = read_owned_files(target, manifest, fmt)
    if owned is None:
        article = "an" if kind[:1] in "aeiou" else "a"
        raise OutputError(f"{_display(target)} is not empty and holds no {manifest} that lnn-edge wrote for {article} "
                          f"{kind}: lnn-edge will not overwrite it; pick a new or empty folder")  # fmt: skip
    edited = edited_files(target, manifest)
    if edited:
        them = "it" if len(edited) == 1 else "them"
        raise OutputError(f"{_display(target)}: {', '.join(edited)} changed since lnn-edge wrote {them} (your edits?), "
                          f"and this {kind} would replace or remove {them}. lnn-edge will not: move {them} out of the "
                          f"folder to keep your changes (or delete {them}) and run again, or give the {kind} a new "
                          "folder")  # fmt: skip
    return owned


@contextlib.contextmanager
def owned_dir(path: str | os.PathLike[str], manifest: str, fmt: str, kind: str = "folder") -> Iterator[Path]:
    """Yield an empty staging folder; when the block succeeds, its files become the folder ``path``.

    The block must write plain files only (at the top or in :data:`SUBDIRS`), including ``manifest``: a JSON object
    with ``"format": fmt`` and ``"files"`` naming every other file it wrote. See the module docstring for what
    may be replaced.
    """
    target = Path(path)
    owned = check_dir_target(target, manifest, fmt, kind)
    if target.exists():
        _remove_leftovers(target, ".lnn-edge-")
        with contextlib.suppress(FileNotFoundError):
            (target / STAGING_MARKER).unlink()  # left by a run killed right after its folder appeared
        staging = _new_staging(target, ".lnn-edge-")  # inside: the renames stay on one file system
    else:
        if target.name in ("", ".", ".."):
            raise OutputError(f"{_display(target)} cannot be created as a folder: give the {kind} a folder name")
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(target.parent, f".{target.name}.lnn-edge-")
        staging = _new_staging(target.parent, f".{target.name}.lnn-edge-")
    try:
        yield staging
        written = _staged_files(staging, manifest)
        if not target.exists():
            os.chmod(staging, _default_mode(directory=True))
            try:
                os.rename(staging, target)  # onto nothing, or onto an empty folder: never onto content
            except OSError as error:
                raise OutputError(f"{target} appeared while lnn-edge was writing it ({error.strerror}): "
                                  "nothing was changed there; run again") from None  # fmt: skip
            (target / STAGING_MARKER).unlink()  # a kill before this leaves only the marker, removed next time
        else:
            owned = check_dir_target(target, manifest, fmt, kind)  # again: it may have changed meanwhile
            _update_in_place(target, staging, written, owned, manifest)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _staged_files(staging: Path, manifest: str) -> list[str]:
    names = sorted(
        path.relative_to(staging).as_posix()
        for path in staging.rglob("*")
        if not path.is_dir() or path.is_symlink()  # folders are listed through their files
    )
    names = [name for name in names if name != STAGING_MARKER]
    bad = [name for name in names if not (staging / name).is_file() or not SAFE_PATH.fullmatch(name)]
    if bad or manifest not in names:  # a bug in the caller, not the user's doing
        raise RuntimeError(f"staged output must be plain files (at the top or in {SUBDIRS}) including {manifest}; "
                           f"got {names}")  # fmt: skip
    return names


def _folders(names: list[str]) -> list[str]:
    """Every folder the listed names lie in (``examples/x/y.ino``: ``examples``, ``examples/x``), deepest last."""
    found = {"/".join(parts[:depth]) for parts in (n.split("/") for n in names) for depth in range(1, len(parts))}
    return sorted(found, key=lambda folder: (folder.count("/"), folder))


def _unusable_folder(target: Path, folders: list[str]) -> str | None:
    """The first of ``folders`` under ``target`` that is a link (which could lead anywhere) or a file, if any."""
    for folder in folders:
        path = target / folder
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            return folder
    return None


def _update_in_place(target: Path, staging: Path, written: list[str], owned: set[str], manifest: str) -> None:
    """Move the staged files into ``target``, replace or remove only what ``owned`` names, manifest last."""
    folders = _folders([*written, *owned])
    unusable = _unusable_folder(target, folders)
    if unusable is not None:
        raise OutputError(f"{target / unusable} is a link or a file, which lnn-edge did not write: it will not write "
                          "through it; move it away or pick another folder")  # fmt: skip
    present = [n for n in written if (target / n).exists() or (target / n).is_symlink()]
    foreign = [n for n in present if n not in owned or ((target / n).is_dir() and not (target / n).is_symlink())]
    if foreign:
        raise OutputError(f"{target} holds {', '.join(foreign)}, which lnn-edge did not write: it will "
                          "not overwrite them; move them away or pick another folder")  # fmt: skip
    pending = target / PENDING_FILE
    pending_tmp = staging / PENDING_FILE
    pending_tmp.write_text(json.dumps(sorted(set(written) | (owned - {PENDING_FILE}))))
    os.replace(pending_tmp, pending)
    for name in written:
        if name != manifest:
            if "/" in name:
                (target / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target / name)
    for name in sorted(owned - set(written) - {PENDING_FILE}):
        stale = target / name
        if stale.is_file() or stale.is_symlink():
            stale.unlink()
    for folder in reversed(folders):  # deepest first
        with contextlib.suppress(OSError):  # only when empty: a user's file in it keeps it
            (target / folder).rmdir()
    os.replace(staging / manifest, target / manifest)
    pending.unlink()

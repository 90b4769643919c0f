"""Reading a file the user named (answers, profiles, domain lists, the config): the text, or one
plain sentence saying what is wrong with it and what to do.

Limits hold while reading, not after: a file is read up to its cap and no further, devices and
sockets are refused (`/dev/zero` would never end), a FIFO or pipe is read up to the cap, and the
parsed JSON, YAML or TOML may nest at most `MAX_DEPTH` deep, hold at most `MAX_NODES` values
(YAML aliases counted as often as they are used) and use at most `MAX_ALIASES` YAML aliases.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from pathlib import Path
from typing import Any

from threer.errors import BadInput
from threer.safe_text import display_path

DEFAULT_MAX_BYTES = 10_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000
MAX_ALIASES = 100


# opening a file to read what it holds: a FIFO with no writer must not hang the open itself, a terminal
# device must not become the process's controlling terminal, and no child process inherits the descriptor
READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


def read_up_to(fd: int, cap: int, expected: int) -> bytes:
    """What `fd` holds, but never more than `cap` + 1 bytes (one more than allowed: too big).

    The first read asks for `expected` + 1 bytes (a file's size from `fstat`), not for `cap`:
    a read of 5 MB allocates 5 MB, whatever the file holds. A file that grew, or a pipe, is read on.
    """
    pieces = []
    want = expected + 1
    total = 0
    while total <= cap:
        piece = os.read(fd, min(want, cap + 1 - total))
        if not piece:
            break
        pieces.append(piece)
        total += len(piece)
        want = 65536
    return b"".join(pieces)


def read_user_bytes(path: Path, what: str, *, fix: str, max_bytes: int | None = None) -> bytes:
    """The bytes of the file a user named as `what`, read up to `max_bytes` and never past it."""
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    shown = display_path(path)
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        raise BadInput(f"The {what} {shown} does not exist; {fix}.") from None
    except IsADirectoryError:
        raise BadInput(f"The {what} {shown} is a folder; {fix}.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read the {what} {shown} ({exc.strerror or exc}).") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise BadInput(f"The {what} {shown} is a folder; {fix}.")
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise BadInput(f"The {what} {shown} is a device or socket, not a file; {fix}.")
        if stat.S_ISFIFO(mode) and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a pipe (`<(...)`) is read as it comes, up to the cap
        try:
            data = read_up_to(fd, cap, info.st_size if stat.S_ISREG(mode) else 65535)
        except OSError as exc:
            raise BadInput(f"Cannot read the {what} {shown} ({exc.strerror or exc}).") from None
    finally:
        os.close(fd)
    if len(data) > cap:
        raise BadInput(f"The {what} {shown} is over {_size(cap)}; {fix}.")
    return data


def config_file_exists(path: Path) -> bool:
    """Whether the config file is there; BadInput when that cannot even be told (a folder on its path
    this user may not enter, a name too long), instead of an unexpected error."""
    try:
        return path.exists()
    except OSError as exc:
        raise BadInput(
            f"Cannot read the config file {display_path(path)} ({exc.strerror or exc}). Check the path and the "
            "permissions of its folders, or set THREER_CONFIG to a file you can read."
        ) from None


def read_user_text(path: Path, what: str, *, fix: str, max_bytes: int | None = None) -> str:
    """The UTF-8 text (a BOM is dropped) of the file a user named as `what`, e.g. "answers file".

    `fix` ends each message with what to do about it, e.g. "give a JSON, YAML or TOML file".
    """
    data = read_user_bytes(path, what, fix=fix, max_bytes=max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"The {what} {display_path(path)} is not UTF-8 text; save it as UTF-8, or {fix}.") from None


def read_stdin_text(what: str, *, max_bytes: int | None = None) -> str:
    """What is piped in on stdin, read up to the cap."""
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(cap + 1) if stream is not None else sys.stdin.read(cap + 1).encode("utf-8", "surrogateescape")
    if len(data) > cap:
        raise BadInput(f"The {what} on stdin is over {_size(cap)}.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInput(f"The {what} on stdin is not UTF-8 text.") from None


def _size(cap: int) -> str:
    return f"{cap // 1_000_000} MB" if cap >= 1_000_000 else f"{cap // 1000} KB" if cap >= 1000 else f"{cap} bytes"


# -- writing files readable by their owner only ---------------------------------------------


def make_private_folder(folder: Path) -> None:
    """Create a folder (and its missing parents) readable by its owner only (0700), whatever the umask."""
    missing = []
    current = Path(folder)
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    Path(folder).mkdir(parents=True, exist_ok=True, mode=0o700)
    for made in missing:
        os.chmod(made, 0o700)


def write_private_file(path: Path, data: bytes, *, make_folder: bool = False) -> None:
    """Write `data` to `path` as a file readable and writable by its owner only (0600).

    The mode is 0600 whatever the umask and whatever mode a file already there had: the data goes
    to a new 0600 file beside it, which then replaces it. A path that is not a regular file
    (`/dev/stdout`, a FIFO) is written as it is.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory", str(path))
        with open(path, "wb") as fh:
            fh.write(data)
        return
    if make_folder:
        make_private_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600) if hasattr(os, "fchmod") else None
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- parsing with limits -------------------------------------------------------------------
# Each loader raises the parser's own error type for every problem (syntax, nesting, aliases),
# so a caller's existing `except json.JSONDecodeError` (etc.) reports it the same way.


class _GivenTwice(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (json.loads would keep the last without a word)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _GivenTwice(key)
        data[key] = value
    return data


def given_twice(key: object) -> str:
    return f"the key {key!r} is given twice (only one answer can count: remove the one that is wrong)"


def _last_key_at(text: str, key: str) -> int:
    """Where `key` last stands as an object's key (followed by a colon) in a JSON text, written as
    it is or with \\u escapes: the place of the key given twice, for its line and column."""
    import re

    forms = {json.dumps(key, ensure_ascii=False), json.dumps(key)}
    found = [m.start() for form in forms for m in re.finditer(re.escape(form) + r"\s*:", text)]
    return max(found) if found else 0


def load_json(text: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except _GivenTwice as exc:
        raise json.JSONDecodeError(given_twice(exc.key), text, _last_key_at(text, exc.key)) from None
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", text, 0) from None
    problem = structure_problem(data)
    if problem:
        raise json.JSONDecodeError(problem, text, 0)
    return data


def load_toml(text: str) -> Any:
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(f"nested deeper than {MAX_DEPTH} levels") from None
    problem = structure_problem(data)
    if problem:
        raise tomllib.TOMLDecodeError(problem)
    return data


def load_yaml(text: str) -> Any:
    import yaml

    try:
        data = yaml.load(text, Loader=_limited_loader())  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels") from None
    problem = structure_problem(data)
    if problem:
        raise yaml.YAMLError(problem)
    return data


_LOADER: Any = None


def _limited_loader() -> Any:
    """yaml.SafeLoader that refuses more than MAX_ALIASES aliases (a "billion laughs" document)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class LimitedSafeLoader(yaml.SafeLoader):
            aliases = 0

            def compose_node(self, parent: Any, index: Any) -> Any:
                if self.check_event(yaml.AliasEvent):
                    self.aliases += 1
                    if self.aliases > MAX_ALIASES:
                        raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (*name)")
                return super().compose_node(parent, index)

            # nesting is refused while scanning, before the recursive composer sees it
            def fetch_flow_collection_start(self, token_class: Any) -> None:
                if self.flow_level >= MAX_DEPTH:
                    raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
                super().fetch_flow_collection_start(token_class)

            def add_indent(self, column: int) -> bool:
                if len(self.indents) >= MAX_DEPTH:
                    raise yaml.YAMLError(f"nested deeper than {MAX_DEPTH} levels")
                return bool(super().add_indent(column))

            def construct_mapping(self, node: Any, deep: bool = False) -> Any:
                # a key given twice is refused (PyYAML keeps the last without a word); keys a merge
                # (`<<: *base`) brings in may be given again, as YAML means them to be
                if isinstance(node, yaml.MappingNode):
                    seen: set[Any] = set()
                    for key_node, _value in node.value:
                        if key_node.tag == "tag:yaml.org,2002:merge":
                            continue
                        key = self.construct_object(key_node, deep=True)
                        try:
                            again = key in seen
                        except TypeError:  # an unhashable key: SafeLoader says so in its own words
                            break
                        if again:
                            raise yaml.constructor.ConstructorError(
                                None, None, given_twice(key), key_node.start_mark)
                        seen.add(key)
                return super().construct_mapping(node, deep=deep)

        _LOADER = LimitedSafeLoader
    return _LOADER


def structure_problem(data: Any) -> str | None:
    """Why a parsed document is too deep or too big to use, or None. Walks iteratively, stops at the limit."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return f"more than {MAX_NODES} values (YAML aliases count each time they are used)"
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH and value:
            return f"nested deeper than {MAX_DEPTH} levels"
        stack.extend((child, depth + 1) for child in children)
    return None

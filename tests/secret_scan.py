"""The suite-wide secret scan: no password, clave dinámica or token in any log line or file of the robot.

`SESSION` is the session's `SecretRegistry`. Every `RobotEnv` (tests/fixtures_robot.py) feeds it:

- the stdout and stderr of every flow run (each `FlowResult` registers itself);
- when the env ends: the secrets its sandbox issued or used (each client's MUISCA, firma and mailbox
  passwords, every token GUID, every clave dinámica) and the bytes of every file under its artifacts
  and output folders (zip files such as Playwright traces are opened and their members scanned too).

At the end of the session `SecretRegistry.finish()` looks for every registered secret in every
registered stream and file, raw and in the common encodings (URL-encoded, JSON-escaped, HTML-escaped),
and `report()` names the source, the KIND of secret and the encoding found, never the secret itself.

The search is plain bytes work: tokens (GUIDs) and claves dinámicas (`AODU1Mzg=`) are found with one
shape regex per blob and a set lookup, whatever their number; other secrets (passwords, a few) with
`bytes.find` per encoded form, skipped when the secret's longest alphanumeric run (unchanged by every
encoding) is not in the blob.
"""

from __future__ import annotations

import html
import io
import json
import re
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

__all__ = [
    "KIND_CLAVE_DINAMICA",
    "KIND_FIRMA_PASSWORD",
    "KIND_MAILBOX_PASSWORD",
    "KIND_MUISCA_PASSWORD",
    "KIND_TOKEN",
    "SESSION",
    "Finding",
    "SecretRegistry",
    "SecretScanner",
    "encoded_forms",
    "expand",
    "report",
]

# The kinds of secret (what a report names instead of the value).
KIND_MUISCA_PASSWORD = "MUISCA password"
KIND_FIRMA_PASSWORD = "firma password"
KIND_MAILBOX_PASSWORD = "mailbox password"
KIND_TOKEN = "token (access link GUID)"
KIND_CLAVE_DINAMICA = "clave dinámica"

#: Shorter values are not scanned (they would match by chance); `SecretRegistry.too_short` counts them.
MIN_LENGTH = 6
#: Zip files inside zip files are opened down to this depth.
MAX_ZIP_DEPTH = 2

_GUID_SECRET = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The first dash of every GUID-shaped run (a literal first byte keeps the regex engine fast; the
# lookahead consumes nothing, so overlapping candidates are all seen). The GUID starts 8 bytes before.
_GUID_DASH = re.compile(rb"-(?=[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})")
# A clave dinámica: alphanumerics and '=' padding; the padding is what URL/JSON/HTML encoding changes,
# so blobs are searched for each (encoded) '=' and the bytes before it looked up.
_KEY_SECRET = re.compile(r"([A-Za-z0-9]{4,64})(={1,3})")
_PAD = re.compile(rb"=|%3[Dd]|\\u003[Dd]|&#61;|&#[xX]0*3[Dd];|&equals;")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Finding:
    """A registered secret seen in a source. Holds no part of the secret."""

    source: str
    kind: str
    encoding: str
    offset: int | None  # None: in the source's name

    def __str__(self) -> str:
        where = "" if self.offset is None else f" at byte {self.offset}"
        return f"{self.source}: {self.kind} ({self.encoding}){where}"


def encoded_forms(secret: str) -> dict[bytes, str]:
    """The byte forms a secret takes in logs, URLs, JSON and HTML, each with the encoding's name."""
    forms: dict[bytes, str] = {}

    def add(text: str, label: str) -> None:
        forms.setdefault(text.encode("utf-8"), label)

    add(secret, "raw")
    for safe in ("", "/"):
        quoted = quote(secret, safe=safe)
        add(quoted, "URL-encoded")
        add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted), "URL-encoded")
    add(quote_plus(secret), "URL-encoded")
    for ascii_only in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ascii_only)[1:-1]
        add(escaped, "JSON-escaped")
        add(escaped.replace("/", "\\/"), "JSON-escaped")
        add(html.escape(escaped), "HTML-escaped")
    add(html.escape(secret), "HTML-escaped")
    add(html.escape(secret, quote=False), "HTML-escaped")
    add(html.escape(html.escape(secret)), "HTML-escaped twice")  # "&amp;amp;" in a link written into HTML
    add(secret.replace("&", "&#38;"), "HTML-escaped")
    return forms


def _padded(data: bytes, at: int, count: int) -> bool:
    """`count` more (encoded) '=' at `at`."""
    for _ in range(count):
        more = _PAD.match(data, at)
        if more is None:
            return False
        at = more.end()
    return True


def _pad_encoding(pad: bytes) -> str:
    if pad.startswith(b"%"):
        return "URL-encoded"
    if pad.startswith(b"\\"):
        return "JSON-escaped"
    if pad.startswith(b"&"):
        return "HTML-escaped"
    return "raw"


class SecretScanner:
    """Finds the given secrets (value -> kind) in bytes, raw or encoded; reports kinds, never values."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._guids: dict[bytes, tuple[str, bytes]] = {}  # lower-case GUID -> (kind, GUID as registered)
        self._keys: dict[tuple[int, int], dict[bytes, str]] = {}  # (body length, '=' count) -> body -> kind
        self._plain: list[tuple[bytes | None, dict[bytes, str], str]] = []  # (anchor, forms, kind)
        for value, kind in secrets.items():
            if _GUID_SECRET.fullmatch(value.lower()):
                self._guids[value.lower().encode()] = (kind, value.encode())
            elif key := _KEY_SECRET.fullmatch(value):
                self._keys.setdefault((len(key[1]), len(key[2])), {})[key[1].encode()] = kind
            else:
                runs = _ALNUM_RUN.findall(value)
                anchor = max(runs, key=len).encode() if runs and max(map(len, runs)) >= 3 else None
                self._plain.append((anchor, encoded_forms(value), kind))

    def scan(self, source: str, data: bytes) -> list[Finding]:
        """Each (kind, encoding) of secret found in `data`, once, at its first offset."""
        found: dict[tuple[str, str], int] = {}

        def hit(kind: str, encoding: str, offset: int) -> None:
            found.setdefault((kind, encoding), offset)

        if self._guids:
            for match in _GUID_DASH.finditer(data):
                start = match.start() - 8
                seen = data[start : start + 36] if start >= 0 else b""
                entry = self._guids.get(seen.lower())
                if entry is not None:
                    hit(entry[0], "raw" if seen == entry[1] else "raw, other letter case", start)
        if self._keys:
            for match in _PAD.finditer(data):
                at = match.start()
                for (length, pads), bodies in self._keys.items():
                    kind = bodies.get(data[at - length : at]) if at >= length else None
                    if kind is not None and _padded(data, match.end(), pads - 1):
                        hit(kind, _pad_encoding(match.group()), at - length)
        for anchor, forms, kind in self._plain:
            if anchor is not None and anchor not in data:
                continue
            for form, encoding in forms.items():
                at = data.find(form)
                if at >= 0:
                    hit(kind, encoding, at)
        return [Finding(source, kind, encoding, at) for (kind, encoding), at in sorted(found.items())]


def expand(
    name: str, data: bytes, *, depth: int = 0, unreadable: list[str] | None = None
) -> Iterator[tuple[str, bytes]]:
    """`(name, data)` and, for a zip file, each member as `name!member` (nested zips too)."""
    yield name, data
    if depth >= MAX_ZIP_DEPTH or not data.startswith(b"PK\x03\x04"):
        return
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [(info.filename, archive.read(info)) for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        if unreadable is not None:
            unreadable.append(name)
        return
    for member, content in members:
        yield from expand(f"{name}!{member}", content, depth=depth + 1, unreadable=unreadable)


def report(findings: Iterable[Finding], *, limit: int = 50) -> str:
    """A failure message: where and which kind of secret, never the value."""
    items = list(findings)
    kinds = Counter(f.kind for f in items)
    lines = [
        f"secret scan: {len(items)} leak(s) of registered secrets in robot output "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}); values not shown:"
    ]
    lines += [f"  - {f}" for f in items[:limit]]
    if len(items) > limit:
        lines.append(f"  ... and {len(items) - limit} more")
    return "\n".join(lines)


@dataclass
class ScanStats:
    secrets: Counter[str] = field(default_factory=Counter)  # kind -> how many distinct values
    too_short: int = 0
    streams: int = 0
    files: int = 0
    members: int = 0
    bytes: int = 0
    unreadable: list[str] = field(default_factory=list)
    findings: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.secrets.items())) or "none"
        text = (
            f"secret scan: {sum(self.secrets.values())} secrets ({kinds}) searched in {self.streams} output "
            f"streams and {self.files} files ({self.members} zip members), {self.bytes / 1e6:.1f} MB, "
            f"in {self.seconds:.2f} s: {self.findings} leak(s)"
        )
        if self.too_short:
            text += f"; {self.too_short} secret(s) shorter than {MIN_LENGTH} characters not searched"
        if self.unreadable:
            text += f"; unreadable zip files (scanned as raw bytes only): {', '.join(self.unreadable)}"
        return text


class SecretRegistry:
    """Secrets, output streams and files collected during a session, scanned all against all at the end.

    Thread-safe: flows run in parallel lanes register their output from several threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: dict[str, str] = {}
        self.too_short: set[str] = set()
        self._streams: list[tuple[str, str]] = []
        self._files: list[tuple[str, str, bytes]] = []  # (folder, name under it, content)
        self._pending: dict[int, Callable[[], None]] = {}
        self.stats: ScanStats | None = None

    # -- feeding ----------------------------------------------------------------------------------
    def add_secret(self, value: str | None, kind: str) -> None:
        if not value:
            return
        with self._lock:
            if len(value) < MIN_LENGTH:
                self.too_short.add(value)
            else:
                self.secrets.setdefault(value, kind)

    def add_stream(self, name: str, text: str) -> None:
        if text:
            with self._lock:
                self._streams.append((name, text))

    def add_file(self, name: str, data: bytes, *, folder: str = "") -> None:
        """A file's content; its `name` (under `folder`) is scanned too, and withheld from reports if it
        holds a secret."""
        with self._lock:
            self._files.append((folder, name, data))

    def add_tree(self, folder: Path, *, exclude: Iterable[Path] = ()) -> int:
        """Read every file under `folder` now (the folder may be gone by the end of the session)."""
        skip = {p.resolve() for p in exclude}
        count = 0
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and not path.is_symlink() and path.resolve() not in skip:
                    self.add_file(str(path.relative_to(folder)), path.read_bytes(), folder=str(folder))
                    count += 1
        return count

    def on_finish(self, key: object, closer: Callable[[], None]) -> None:
        """Run `closer` (which feeds this registry) at `finish()` unless `done(key)` was called first."""
        with self._lock:
            self._pending[id(key)] = closer

    def done(self, key: object) -> None:
        with self._lock:
            self._pending.pop(id(key), None)

    # -- scanning ---------------------------------------------------------------------------------
    def scan(self) -> list[Finding]:
        started = time.perf_counter()
        with self._lock:
            secrets = dict(self.secrets)
            streams, files = list(self._streams), list(self._files)
        stats = ScanStats(secrets=Counter(secrets.values()), too_short=len(self.too_short))
        stats.streams, stats.files = len(streams), len(files)
        scanner = SecretScanner(secrets)
        findings: list[Finding] = []
        for name, text in streams:
            data = text.encode("utf-8", "surrogateescape")
            stats.bytes += len(data)
            findings += scanner.scan(name, data)
        withheld = 0
        for folder, path, content in files:
            unreadable: list[str] = []
            shown_as: dict[str, str] = {}
            for index, (name, data) in enumerate(expand(path, content, unreadable=unreadable)):
                stats.members += index > 0
                stats.bytes += len(data)
                shown = f"{folder}/{name}" if folder else name
                in_name = scanner.scan(shown, shown.encode("utf-8", "surrogateescape"))
                if in_name:  # report the file without printing its name
                    withheld += 1
                    kinds = ", ".join(sorted({f.kind for f in in_name}))
                    shown = f"{folder or '.'}/<file name #{withheld} withheld: it holds a {kinds}>"
                    findings += [Finding(shown, f.kind, f"{f.encoding}, in the file name", None) for f in in_name]
                shown_as[name] = shown
                findings += scanner.scan(shown, data)
            stats.unreadable += [shown_as[name] for name in unreadable]
        stats.findings = len(findings)
        stats.seconds = time.perf_counter() - started
        self.stats = stats
        return findings

    def finish(self) -> list[Finding]:
        """Let every env still open feed the registry, then scan."""
        while True:
            with self._lock:
                if not self._pending:
                    break
                _, closer = self._pending.popitem()
            closer()
        return self.scan()


#: The registry of this pytest session (fed by tests/fixtures_robot.py, checked at the session's end).
SESSION = SecretRegistry()

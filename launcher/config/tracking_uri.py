"""What kind of MLflow tracking URI is this? The one owner of that question, and of making local ones absolute.

Kinds: a local store on this machine (`sqlite:`, `file:` or a plain path), an MLflow server (`http(s)://`), a
SageMaker managed MLflow server (its ARN), or anything else MLflow's plugins understand (`databricks`, ...),
which is passed through untouched and is not a local store.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from urllib.parse import unquote, urlsplit

SQLITE_PREFIX = "sqlite:///"
MANAGED_MLFLOW_MARKERS = (":mlflow-tracking-server/", ":mlflow-app/")
PLUGIN_NAMES = ("databricks", "databricks-uc", "uc")  # MLflow URIs that are names, not paths


class UriKind(Enum):
    SQLITE = "sqlite"
    FILE = "file"
    SERVER = "server"
    MANAGED = "managed"
    OTHER = "other"


def kind(uri: str) -> UriKind:
    if uri.startswith("sqlite:"):
        return UriKind.SQLITE
    if uri.startswith(("http://", "https://")):
        return UriKind.SERVER
    if uri.startswith("arn:aws") and any(marker in uri for marker in MANAGED_MLFLOW_MARKERS):
        return UriKind.MANAGED
    if uri.split(":", 1)[0] in PLUGIN_NAMES:
        return UriKind.OTHER
    if uri.startswith("file:") or ("://" not in uri and ":" not in uri.split("/", 1)[0]):
        return UriKind.FILE  # `file:...`, or a plain path such as `mlruns` or `/srv/mlruns`
    return UriKind.OTHER


def is_local_store(uri: str) -> bool:
    """sqlite and file stores live on this machine: a SageMaker job cannot write to them."""
    return kind(uri) in (UriKind.SQLITE, UriKind.FILE)


def is_server(uri: str) -> bool:
    return kind(uri) is UriKind.SERVER


def is_managed_mlflow(uri: str) -> bool:
    return kind(uri) is UriKind.MANAGED


def resolve(uri: str, cwd: Path) -> str:
    """Local stores made absolute (so a process started elsewhere finds the same store); others unchanged.

    `sqlite:///mlflow.db` → `sqlite:////<cwd>/mlflow.db`; `mlruns`, `file:./mlruns` → `file:///<cwd>/mlruns`.
    """
    found = kind(uri)
    if found is UriKind.SQLITE and uri.startswith(SQLITE_PREFIX) and not uri.startswith(SQLITE_PREFIX + "/"):
        return SQLITE_PREFIX + str((cwd / uri[len(SQLITE_PREFIX) :]).resolve())
    if found is UriKind.FILE:
        return (cwd / file_path(uri)).resolve().as_uri()
    return uri


def file_path(uri: str) -> Path:
    """The directory of a `file:` store URI or plain path (relative paths stay relative)."""
    if not uri.startswith("file:"):
        return Path(uri)
    parts = urlsplit(uri)
    return Path(unquote(parts.path if parts.netloc in ("", "localhost") else f"//{parts.netloc}{parts.path}"))


def sqlite_file(uri: str) -> Path | None:
    """The database file of an absolute `sqlite:////path` URI, else None."""
    if uri.startswith(SQLITE_PREFIX + "/"):
        return Path(uri[len(SQLITE_PREFIX) :])
    return None


def local_store_paths(uri: str, artifact_dir: str | None = None) -> tuple[str, ...]:
    """Directories of a local store a container must see at their own path: the sqlite file's directory (or
    the file store) and `artifact_dir` when it is local. Empty for servers."""
    paths = []
    database = sqlite_file(uri)
    if database is not None:
        paths.append(str(database.parent))
    elif kind(uri) is UriKind.FILE:
        paths.append(str(file_path(uri)))
    if artifact_dir and artifact_dir.removeprefix("file://").startswith("/"):
        paths.append(artifact_dir.removeprefix("file://"))
    return tuple(dict.fromkeys(paths))

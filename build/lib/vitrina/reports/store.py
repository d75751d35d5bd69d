"""Where reports go: a local folder or an S3 bucket, through obstore (one API for both; S3
credentials, region and endpoint come from the usual AWS_* variables)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import obstore
from obstore.store import LocalStore, ObjectStore, from_url


def open_store(destination: str) -> ObjectStore:
    if "://" not in destination or destination.startswith("file://"):
        path = Path(destination.removeprefix("file://")).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return LocalStore(path)
    return from_url(destination)


def exists(store: ObjectStore, path: str) -> bool:
    try:
        obstore.head(store, path)
    except FileNotFoundError:
        return False
    return True


def put_all(store: ObjectStore, files: dict[str, bytes], workers: int = 8) -> None:
    """Upload concurrently (each put is a request on S3); raises the first failure."""
    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(obstore.put, store, path, data) for path, data in files.items()]:
            future.result()

"""A local file server and a model-zoo index written by the tests (no network needed).

``FileServer`` serves bytes on 127.0.0.1 from a thread of the test process, with HTTP Range
support and per-file behaviours: 'ok', 'drop' (the first full request is cut after half the
file, the connection closed), 'stall' (headers never sent), 'stall-body' (the first full
request gets headers and 16 bytes, then silence), 'html' (a web page instead of the file) and
a status code such as 404.
It also answers the Hugging Face hub's ``/<repo>/resolve/<revision>/<file>`` requests with the
hub's headers (X-Repo-Commit, ETag = the file's sha256) for ``huggingface_hub``.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Served:
    """One file: content, behaviour, optional extra headers."""

    content: bytes
    mode: str | int = 'ok'
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = 'application/octet-stream'


class FileServer:
    """A threaded HTTP server for tests; ``requests`` logs (method, path, Range header)."""

    def __init__(self) -> None:
        self.files: dict[str, Served] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.stop = threading.Event()
        self._dropped: set[str] = set()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f'http://{host}:{port}'

    def add(self, path: str, content: bytes, mode: str | int = 'ok', **kwargs: Any) -> str:
        """Serves ``content`` at ``path``; returns its URL."""
        self.files[path] = Served(content, mode, **kwargs)
        return self.url + path

    def gets(self, path: str) -> list[str | None]:
        """Range headers of the GET requests made for ``path``."""
        return [rng for method, p, rng in self.requests if method == 'GET' and p == path]

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_HEAD(self) -> None:  # noqa: N802 (http.server naming)
                self._serve(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                path = self.path.split('?')[0]
                rng = self.headers.get('Range')
                server.requests.append((self.command, path, rng))
                served = server.files.get(path)
                if served is None or isinstance(served.mode, int):
                    code = 404 if served is None else served.mode
                    self.send_response(code)
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                if served.mode == 'stall':
                    server.stop.wait(10)
                    return
                data, start = served.content, 0
                match = re.match(r'bytes=(\d+)-', rng or '')
                if match and body:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header('Content-Range', f'bytes */{len(data)}')
                        self.send_header('Content-Length', '0')
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header('Content-Range',
                                     f'bytes {start}-{len(data) - 1}/{len(data)}')
                else:
                    self.send_response(200)
                content_type = 'text/html' if served.mode == 'html' else served.content_type
                self.send_header('Content-Type', content_type)
                self.send_header('Content-Length', str(len(data) - start))
                self.send_header('Accept-Ranges', 'bytes')
                for key, value in served.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not body:
                    return
                payload = data[start:]
                if served.mode == 'drop' and path not in server._dropped:
                    server._dropped.add(path)
                    self.wfile.write(payload[:len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if served.mode == 'stall-body' and path not in server._dropped:
                    server._dropped.add(path)
                    self.wfile.write(payload[:16])
                    self.wfile.flush()
                    server.stop.wait(10)
                    return
                self.wfile.write(payload)

        return Handler


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git_blob_sha1(data: bytes) -> str:
    """The id ``git hash-object`` gives a file with this content."""
    return hashlib.sha1(b'blob %d\0' % len(data) + data).hexdigest()


def weight_entry(name: str, url: str, collection: str = 'Test', **zoo: Any) -> dict:
    """A metafile weight entry (``Zoo`` keys as in dense_clip/zoo/index.py)."""
    return {'Name': name, 'In Collection': collection, 'Weights': url,
            'Metadata': {'Zoo': {'Format': 'test', **zoo}}}


def write_index(root: Path, weights: list[dict], configs: list[dict] = ()) -> Path:
    """Writes ``root/model-index.yml`` importing one metafile with the given entries."""
    (root / 'configs' / 'test').mkdir(parents=True, exist_ok=True)
    metafile = {'Collections': [{'Name': 'Test'}], 'Models': [*weights, *configs]}
    (root / 'configs' / 'test' / 'metafile.yaml').write_text(yaml.safe_dump(metafile))
    index = root / 'model-index.yml'
    index.write_text(yaml.safe_dump({'Import': ['configs/test/metafile.yaml']}))
    return index


def write_hub_cache(cache: Path, repo_id: str, filename: str, content: bytes, commit: str,
                    repo_type: str = 'model', refs: tuple[str, ...] = ('main',)) -> Path:
    """Writes one file in huggingface_hub's cache layout; returns the snapshot path.

    ``<cache>/<type>s--<org>--<name>/blobs/<sha256>`` holds the bytes,
    ``snapshots/<commit>/<filename>`` links to it (relative symlink), ``refs/<ref>`` names the
    commit.
    """
    folder = cache / f'{repo_type}s--{repo_id.replace("/", "--")}'
    blob = folder / 'blobs' / sha256(content)
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    link = folder / 'snapshots' / commit / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    for ref in refs:
        (folder / 'refs').mkdir(exist_ok=True)
        (folder / 'refs' / ref).write_text(commit)
    return link

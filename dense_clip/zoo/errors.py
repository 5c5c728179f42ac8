"""The one error type of the model zoo: every message names the entry, file or folder at fault."""

from __future__ import annotations

__all__ = ['ZooError']


class ZooError(RuntimeError):
    """A zoo name, download, checksum, cache folder or conversion cannot be used as asked.

    Raised for: an unknown name (close matches listed), a network failure after retries, an HTTP
    error, a checksum mismatch (the file kept aside), an offline machine missing a file (where to
    place it), an unwritable or full cache folder, and a converter that is not registered.
    """

"""The content digest that names a file's bytes in the cache and the project pass.

``hashlib`` loads OpenSSL's ``_hashlib`` when it is imported (about 3 ms, a fortieth of a warm scan)
for algorithms these digests never use. BLAKE2 is CPython's own ``_blake2`` module, which is what
``hashlib.blake2b`` is, so importing it directly gives the same digests without OpenSSL.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter without CPython's built-in module
    from hashlib import blake2b

__all__ = ["blake2b", "content_digest"]


def content_digest(data: bytes) -> str:
    """128 bits: collisions are out of reach for any tree, and the hex string stays short in the cache."""
    return blake2b(data, digest_size=16).hexdigest()

"""`python -m libcst.tool codemod httpx_shared.ShareHttpxClientsCommand --accessor-module pkg.http_client .`"""

from codemods.command import ShareHttpxClientsCommand

__all__ = ["ShareHttpxClientsCommand"]

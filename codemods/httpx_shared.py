"""httpx sites, from libcst's own tool (with `modules: [codemods]` in `.libcst.codemod.yaml`):

python -m libcst.tool codemod httpx_shared.ShareHttpxClientsCommand --accessor-module pkg.http_client .
"""

from codemods.command import ShareHttpxClientsCommand

__all__ = ["ShareHttpxClientsCommand"]

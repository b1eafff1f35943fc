"""Registrable domains and the shard function: see :mod:`tdmscan.domains`.

The implementation sits below the policy layer since the infringing-site lists and the terms
page discovery match on registrable domains too; this module keeps the ledger's import path.
"""

from ..domains import PSL_VERSION, registrable_domain, shard_of

__all__ = ["PSL_VERSION", "registrable_domain", "shard_of"]

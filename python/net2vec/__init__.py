"""net2vec as a library: read a net2vec catalog and query a `net2vec serve` API from Python.

    import net2vec
    with net2vec.open("data/demo/catalog.db") as cat:   # read-only Catalog
        names, w = cat.vectors("glove-100d")
    net2vec.Client("http://127.0.0.1:8080").neighbors("glove-100d", "dog", k=5)

docs/PYTHON.md has a worked example.
"""

# Catalog reader and HTTP client (docs/PYTHON.md).
from .catalog import Catalog, CatalogError, open  # noqa: A004 - net2vec.open opens a catalog
from .client import Client, ClientError

__all__ = ["open", "Catalog", "CatalogError", "Client", "ClientError"]

"""The store role: the SQLite catalog (source of truth), the Chroma sentence vectors, the segmented BM25
index, the writer lock, the commit record readers follow, and `qa check`."""
from qa.store.index import Store, VectorIndex, View

__all__ = ["Store", "VectorIndex", "View"]

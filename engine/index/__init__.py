"""The hnswlib vector index: integer ids in, integer ids out; a rebuildable cache of the catalog.

Never imports the catalog or torch: the library layer feeds it (catalog id, vector) pairs.
"""

from engine.index.exact import exact_top_k, recall_at_k
from engine.index.hnsw import VectorIndex
from engine.index.stamp import IndexStamp
from engine.index.synthetic import low_rank_vectors

__all__ = ["IndexStamp", "VectorIndex", "exact_top_k", "low_rank_vectors", "recall_at_k"]

"""Search over a library: query vectors from weighted text/image terms, filters, and hybrid ranking."""

from engine.search.hybrid import RRF_K, reciprocal_rank_fusion
from engine.search.query_vector import build_query_vector, keyword_text
from engine.search.searcher import Searcher

__all__ = ["RRF_K", "Searcher", "build_query_vector", "keyword_text", "reciprocal_rank_fusion"]

"""Search over a library: query vectors from weighted text/image terms, filters, backgrounds and one score."""

from engine.search.keywords import KeywordQuery
from engine.search.query_vector import build_query_vector, keyword_text
from engine.search.searcher import RankRequest, Searcher

__all__ = ["KeywordQuery", "RankRequest", "Searcher", "build_query_vector", "keyword_text"]

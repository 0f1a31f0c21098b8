"""Okapi BM25 ranking in pure Python.

Why not rank-bm25 or bm25s: both need numpy, which would multiply the Lambda
bundle's size and cold start for a corpus of a few hundred short documents that
pure Python scores in well under a millisecond.

    score(d, q) = sum over terms t of q:
        idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))

    idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))

The idf is Lucene's variant: unlike the original ``ln((N - n + 0.5) / (n + 0.5))``
it never goes negative, so a term present in most documents (say "shoe" in a
running-shoe query) adds a little instead of pushing matching products down.
"""

import math
from collections import Counter
from typing import Dict, Iterable, List, Sequence

__all__ = ["BM25Index"]


class BM25Index:
    """An inverted index over pre-tokenized documents, identified by position."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.size = len(documents)
        self.lengths = [len(terms) for terms in documents]
        self.average_length = (sum(self.lengths) / self.size) if self.size else 0.0
        # term -> {document position: term frequency}
        self.postings: Dict[str, Dict[int, int]] = {}
        for position, terms in enumerate(documents):
            for term, frequency in Counter(terms).items():
                self.postings.setdefault(term, {})[position] = frequency
        self.idf = {term: self._idf(len(docs)) for term, docs in self.postings.items()}

    def _idf(self, document_frequency: int) -> float:
        return math.log(1 + (self.size - document_frequency + 0.5) / (document_frequency + 0.5))

    def scores(self, query_terms: Iterable[str]) -> Dict[int, float]:
        """BM25 score of every document matching at least one term (others score 0)."""
        scores: Dict[int, float] = {}
        for term in set(query_terms):
            postings = self.postings.get(term)
            if not postings:
                continue
            idf = self.idf[term]
            for position, frequency in postings.items():
                norm = self.k1 * (1 - self.b + self.b * self.lengths[position] / self.average_length)
                scores[position] = scores.get(position, 0.0) + idf * frequency * (self.k1 + 1) / (frequency + norm)
        return scores

    def matched_terms(self, query_terms: Iterable[str], position: int) -> List[str]:
        """The query terms that occur in one document."""
        return [term for term in dict.fromkeys(query_terms) if position in self.postings.get(term, {})]

    def knows(self, term: str) -> bool:
        return term in self.postings

"""Should the bot abstain? A small logistic model over retrieval and sentence features.

Fitted on data by `bench/calibrate_abstention.py` (answerable questions vs questions about articles that
are not in the index, and, at a lower weight, squad-v2's unanswerable questions about indexed articles);
the threshold is chosen there for a stated wrongful-abstention rate."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

MODEL_PATH = Path(__file__).parent.parent / "data" / "abstention.json"


@dataclass(frozen=True)
class AbstentionFeatures:
    """All scale-free (cosines and IDF-weighted fractions), so they transfer across corpus sizes."""

    passage_cosine: float  # dense cosine of the best passage
    sentence_cosine: float  # cosine of the best-scoring sentence
    sentence_coverage: float  # IDF-weighted share of question terms in that sentence (+ its context)
    passage_coverage: float  # the same share over the best passage containing terms
    known_terms: float  # IDF-weighted share of question terms that occur anywhere in the corpus
    # The premise check (qa/answer/premise.py): what the question names that the top passages never hold.
    missing_share: float = 0.0  # IDF-weighted share of the question's content words in no top passage
    unknown_name: float = 0.0  # 1.0: a name of the question (capitalised word, acronym, number) unknown to the corpus
    missing_name: float = 0.0  # 1.0: a name of the question in no top passage
    # 1.0: the best sentence misses a cue of the question (a negation, a word whose opposite it holds, a number)
    contradiction: float = 0.0

    def premise_held(self) -> "AbstentionFeatures":
        """The same features as if every word of the question were in the passages: what the answer's
        probability would be without the premise check."""
        return replace(self, missing_share=0.0, unknown_name=0.0, missing_name=0.0)

    def vector(self) -> list[float]:
        return [getattr(self, f.name) for f in fields(self)]

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


@dataclass
class AbstentionModel:
    weights: list[float]
    bias: float
    threshold: float  # abstain when P(answerable) < threshold
    meta: dict

    def logit(self, features: AbstentionFeatures) -> float:
        """log odds that the articles answer the question."""
        return self.bias + sum(w * x for w, x in zip(self.weights, features.vector()))

    def probability(self, features: AbstentionFeatures) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit(features)))

    def save(self, path: Path = MODEL_PATH) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"features": AbstentionFeatures.names()}
        path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> "AbstentionModel":
        data = json.loads(path.read_text())
        if data.get("features") != AbstentionFeatures.names():
            raise ValueError(f"{path}: fitted on features {data.get('features')}, code has {AbstentionFeatures.names()}")
        return cls(data["weights"], data["bias"], data["threshold"], data.get("meta", {}))

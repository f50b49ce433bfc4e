"""Comments written from a few topics with known words: pure, so that a fresh process (no Django) can
build the same ones."""

import random

TOPICS = {
    "billing": ["invoice", "billing", "charged twice", "refund", "payment", "price"],
    "support": ["support team", "agent", "helpful", "quick response", "ticket", "chat"],
    "speed": ["slow", "loading", "performance", "lag", "timeout", "spinner"],
    "reports": ["report", "dashboard", "export", "chart", "csv", "filters"],
    "onboarding": ["setup", "onboarding", "documentation", "tutorial", "getting started", "guide"],
    "mobile": ["mobile", "iphone", "android", "phone", "tablet", "notifications"],
}
FILLER = ["really", "overall", "always", "think", "lately", "usually", "quite", "honestly", "mostly"]
# A topic that comes up later, with words of its own.
LATER_TOPIC = ["pricing page", "discount", "coupon", "plan upgrade", "trial", "seats"]


def topic_texts(topics: list[str], *, seed: int, words: dict[str, list[str]] | None = None) -> list[str]:
    """One comment per entry of `topics`: three of its known words and three filler words, shuffled."""
    known = words or TOPICS
    rng = random.Random(seed)  # noqa: S311 - a fixed corpus, not a secret
    texts = []
    for topic in topics:
        chosen = rng.sample(known[topic], 3) + rng.sample(FILLER, 3)
        rng.shuffle(chosen)
        texts.append(" ".join(chosen).capitalize() + ".")
    return texts


def topic_of(
    terms: list[list[object]] | list[tuple[str, float]], words: dict[str, list[str]] | None = None
) -> str | None:
    """The topic whose known words are a theme's three heaviest terms, if one is."""
    top = {str(term) for term, _ in terms[:3]}
    for topic, known in (words or TOPICS).items():
        if top <= {part for word in known for part in (word, *word.split())}:
            return topic
    return None

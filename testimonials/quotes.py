"""Pure rules of a quote: staff may trim the customer's words, never rewrite them; how a name is shown.

A trim is one or more runs of the original's whole words, in order, separated by an ellipsis ("…" or
"..."). Each run is copied from the original exactly as written there, so what is shown is always
the customer's own text; "…" is added wherever words were left out (start, middle, end).
"""

import re
from dataclasses import dataclass

ELLIPSIS = "…"
_GAP = re.compile(r"\s*(?:…|\.\.\.)\s*")
_WORD = re.compile(r"\S+")
# A run may end before a word's trailing punctuation ("fast," trimmed to "fast"), which is then left out.
_TRAILING = ",;:.!?"


class QuoteNotVerbatim(ValueError):
    """The wanted text is not a trim of the customer's words."""


@dataclass(frozen=True)
class _Word:
    text: str
    start: int
    end: int


def _words(text: str) -> list[_Word]:
    return [_Word(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _run_find(original: list[_Word], wanted: list[str], after: int) -> tuple[int, int, bool] | None:
    """Where `wanted` occurs as whole words of `original`, at word `after` or later: (first word,
    last word, whether the last is cut before its trailing punctuation)."""
    size = len(wanted)
    for first in range(after, len(original) - size + 1):
        head = [w.text for w in original[first : first + size - 1]]
        last = original[first + size - 1].text
        if head != wanted[:-1]:
            continue
        if last == wanted[-1]:
            return first, first + size - 1, False
        if last.rstrip(_TRAILING) == wanted[-1] and last != wanted[-1]:
            return first, first + size - 1, True
    return None


def quote_trim(*, original: str, wanted: str) -> str:
    """The quote to show for staff's `wanted` text: runs of the original's words copied from it, "…"
    where words are left out. Raises QuoteNotVerbatim when `wanted` is not such a trim."""
    words = _words(original)
    if not words:
        raise QuoteNotVerbatim("There are no customer's words to quote.")
    runs = [run for run in _GAP.split(wanted.strip()) if run.strip()]
    if not runs:
        raise QuoteNotVerbatim("Keep at least one word of the customer's.")
    pieces: list[str] = []
    position = 0
    for run in runs:
        found = _run_find(words, run.split(), position)
        if found is None:
            raise QuoteNotVerbatim(
                f"“{run.strip()}” is not in the customer's words (after what comes before it): staff may "
                "leave words out, never change, add or reorder them."
            )
        first, last, cut = found
        if first > position and (not pieces or pieces[-1] != ELLIPSIS):
            pieces.append(ELLIPSIS)
        end = words[last].start + len(words[last].text.rstrip(_TRAILING)) if cut else words[last].end
        pieces.append(original[words[first].start : end])
        position = last + 1
        if cut:
            pieces.append(ELLIPSIS)
    if position < len(words) and pieces[-1] != ELLIPSIS:
        pieces.append(ELLIPSIS)
    return _joined(pieces)


def _joined(pieces: list[str]) -> str:
    """Runs and ellipses as one text: "… fast support", "Great product… fast support"."""
    text = ""
    for piece in pieces:
        if piece == ELLIPSIS:
            text += ELLIPSIS
        else:
            text = f"{text} {piece}" if text else piece
    return text


def name_shown(*, display: str, first_name: str, last_name: str, name: str) -> str:
    """The name as the person chose to show it: "Ann Peeters", "Ann P." or "" (anonymous)."""
    full = " ".join(part for part in (first_name.strip(), last_name.strip()) if part) or name.strip()
    if display == "full":
        return full
    if display == "first_initial":
        first = first_name.strip() or (full.split()[0] if full else "")
        last = last_name.strip() or (" ".join(full.split()[1:]) if len(full.split()) > 1 else "")
        return f"{first} {last[0]}." if first and last else first
    return ""

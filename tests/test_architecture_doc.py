"""docs/architecture.md stays true: the processing handlers it lists run in the order it gives."""

import re
from pathlib import Path

from integrations.services import EVENT_HANDLERS

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def test_the_architecture_doc_lists_the_processing_handlers_in_the_order_they_run() -> None:
    listed = re.findall(r"│\s+\d\. (\w+(?:/\w+)*)\.py", DOC.read_text())
    running = [handler.__module__.replace(".", "/") for handler in EVENT_HANDLERS]

    assert listed == running

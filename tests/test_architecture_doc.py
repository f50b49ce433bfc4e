"""docs/architecture.md stays true: the processing handlers it lists run in the order it gives."""

import re
from pathlib import Path

from integrations.services import event_handlers

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def test_the_architecture_doc_lists_the_processing_handlers_in_the_order_they_run() -> None:
    listed = re.findall(r"│\s+\d\. (\w+(?:/\w+)*)\.py", DOC.read_text())
    running = [handler.__module__.replace(".", "/") for handler in event_handlers()]

    assert listed == running


def test_every_setting_the_security_section_names_is_one_an_operator_can_set() -> None:
    operations = (DOC.parent / "operations.md").read_text()
    section = operations.split("## Security and privacy", 1)[1].split("\n## ", 1)[0]
    documented = (DOC.parent.parent / ".env.example").read_text()
    names = set(re.findall(r"`([A-Z][A-Z0-9_]{3,})\*?`", section))

    assert {"HUB_HASH_KEYS", "HUB_OUTBOUND_ALLOWED_NETWORKS", "HUB_ENCRYPTION_KEYS"} <= names
    assert [name for name in sorted(names) if name not in documented] == []

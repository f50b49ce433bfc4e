"""What staff read on a delivery that failed by a bug (not a destination's answer): the error, naming no
one, as every stored error text (hub.errors.error_text)."""

from integrations.base import ConnectorError
from integrations.delivery_loop import failure_reason


def test_a_bugs_error_on_a_delivery_names_no_one() -> None:
    reason = failure_reason(KeyError("no trait 'plan' for ann@example.com"))

    assert reason.startswith("KeyError:")
    assert "ann@example.com" not in reason
    assert "plan" not in reason


def test_a_destinations_own_error_is_shown_as_it_said() -> None:
    assert failure_reason(ConnectorError("HTTP 503: busy")) == "HTTP 503: busy"

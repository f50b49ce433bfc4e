"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from testimonials.receipts import testimonial_receipt_send, testimonial_receipts_sweep


@shared_task(name="testimonials.receipt_send")
def receipt_send(testimonial_id: int) -> str:
    """Right after a person agreed to be quoted (enqueued on commit): their consent email."""
    return testimonial_receipt_send(testimonial_id=testimonial_id)


@shared_task(name="testimonials.receipts_sweep")
def receipts_sweep() -> int:
    """Every 5 minutes (beat): consent emails whose task was lost."""
    return testimonial_receipts_sweep()

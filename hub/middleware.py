"""Query parameters pass through the one cleaner (hub/cleaning.py) before any view, form or filter
reads them: a U+0000 in `?status=` or `?q=` can no longer reach PostgreSQL (a 500 in the admin's
list filters, among others)."""

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, QueryDict

from hub.cleaning import clean_text
from hub.views import page_not_found


def query_parameters_clean(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[..., HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        raw = request.META.get("QUERY_STRING", "")
        # Decoded with errors="replace", a query holds no lone surrogate: only U+0000 to look for.
        if "%00" in raw or "\x00" in raw:
            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(
                    clean_text(key, multiline=True), [clean_text(value, multiline=True) for value in values]
                )
            cleaned._mutable = False
            request.GET = cleaned  # type: ignore[assignment]  # immutable again, as Django makes it
        return get_response(request)

    return middleware


class NotFoundPages:
    """A view's Http404 gets the same page as an unknown address (hub/views.py), in every mode: with
    DEBUG on (embedded mode) Django would answer its technical page, which lists the project's routes.
    The API's views answer their own JSON 404 and never reach this."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return page_not_found(request, exception) if isinstance(exception, Http404) else None

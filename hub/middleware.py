"""Query parameters pass through the one cleaner (hub/cleaning.py) before any view, form or filter
reads them: a U+0000 in `?status=` or `?q=` can no longer reach PostgreSQL (a 500 in the admin's
list filters, among others)."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict

from hub.cleaning import clean_text


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

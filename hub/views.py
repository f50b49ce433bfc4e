"""The site's own pages outside the admin, the API and the survey pages: where `/` leads, and the
friendly "not found" page for every other address (never Django's debug page listing the routes)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve


def home(request: HttpRequest) -> HttpResponse:
    """`/`: the admin, which sends people without a staff login to its login page first."""
    return redirect("admin:index")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A page for people: the address is not one of the hub's, and where to go instead."""
    return render(request, "404.html", {"path": request.path}, status=404)


def address_unknown(request: HttpRequest) -> HttpResponse:
    """Every address no route takes (the last route): Django's slash redirect, else the 404 page."""
    if settings.APPEND_SLASH and not request.path_info.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not address_unknown:
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
    return page_not_found(request)

"""/api/docs/ works without internet: Swagger UI's files come from the hub itself."""

from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, Response, expect


def test_api_docs_render_from_the_hubs_own_files_only(admin_page: Page, live_server: Any) -> None:
    page = admin_page
    origin = urlsplit(live_server.url).netloc
    requested: list[Request] = []
    answered: list[Response] = []
    page.on("request", lambda request: requested.append(request))
    page.on("response", lambda response: answered.append(response))
    # As offline: anything the page asks of another host fails.
    page.route(lambda url: urlsplit(url).netloc != origin, lambda route: route.abort())

    page.goto("/api/docs/")

    expect(page.get_by_role("heading", name="Feedback Hub API")).to_be_visible()
    expect(page.get_by_text("/api/sources/", exact=True).first).to_be_visible()
    elsewhere = [r.url for r in requested if urlsplit(r.url).netloc not in (origin, "")]
    assert elsewhere == []
    assets = [r for r in answered if "/static/" in r.url]
    assert {urlsplit(r.url).path.rsplit("/", 1)[1] for r in assets} >= {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    }
    assert all(r.status == 200 for r in assets), [(r.url, r.status) for r in assets]

"""Swagger UI works on a machine that cannot reach the internet: every asset the docs
page loads is one of our static files, served in development and collected for
production."""

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles.views import serve
from django.core.management import call_command
from django.test import RequestFactory

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class _Assets(HTMLParser):
    """Every URL the page makes the browser fetch (src and href attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.urls += [value for name, value in attrs if name in {"src", "href"} and value]


@pytest.fixture
def docs_page(client) -> str:
    client.force_login(UserFactory(is_staff=True))
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def asset_paths(docs_page, settings) -> list[str]:
    parser = _Assets()
    parser.feed(docs_page)
    assert len(parser.urls) >= 3  # the stylesheet, the bundle, the preset (and the icon)
    return [url.removeprefix(settings.STATIC_URL) for url in parser.urls]


def test_the_docs_page_loads_nothing_from_another_site(docs_page, settings):
    parser = _Assets()
    parser.feed(docs_page)

    assert [url for url in parser.urls if not url.startswith(settings.STATIC_URL)] == []
    # Nor from its script: no CDN, and no online validator badge.
    assert re.findall(r"https?://", docs_page) == []
    assert '"validatorUrl": null' in docs_page


def test_the_docs_assets_are_served_in_development(asset_paths, settings):
    """What `runserver` (and the live server) do with DEBUG on: serve from the apps'
    static folders."""
    settings.DEBUG = True

    for path in asset_paths:
        response = serve(RequestFactory().get(f"{settings.STATIC_URL}{path}"), path)
        body = b"".join(response.streaming_content)
        assert response.status_code == 200, path
        assert body, path


def test_collectstatic_gathers_the_docs_assets_for_production(asset_paths, settings, tmp_path):
    settings.STATIC_ROOT = tmp_path

    call_command("collectstatic", interactive=False, verbosity=0)

    missing = [path for path in asset_paths if not (Path(tmp_path) / path).is_file()]
    assert missing == []


def test_the_docs_send_someone_not_signed_in_to_sign_in(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/v1/docs/"


def test_the_schema_is_401_without_a_session_or_token(anonymous_client):
    response = anonymous_client.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 401
    assert json.loads(response.content)["code"] == "NOT_AUTHENTICATED"


def test_a_public_portal_can_open_both(client, settings):
    settings.API_DOCS_PUBLIC = True

    assert client.get("/api/v1/docs/").status_code == 200
    assert client.get("/api/v1/schema/").status_code == 200

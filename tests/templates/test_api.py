"""The templates API: list and filters, detail with history, roles, tenants, sync."""

from datetime import timedelta

import pytest
from django.utils import timezone

from templates.models import MessageTemplate
from tests.factories import ChannelFactory, MessageTemplateFactory, OrganizationFactory
from tests.templates.meta import list_pages, meta_template

pytestmark = pytest.mark.django_db

URL = "/api/v1/templates/"


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def _template(channel, **fields) -> MessageTemplate:
    return MessageTemplateFactory(channel=channel, **fields)


# --- The list ------------------------------------------------------------------------


def test_list_shows_the_organization_s_templates_newest_first(viewer_client, channel):
    older = _template(channel)
    newer = _template(channel)
    MessageTemplate.objects.filter(pk=older.pk).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    _template(ChannelFactory(organization=OrganizationFactory()))

    assert _ids(viewer_client.get(URL)) == [newer.pk, older.pk]


def test_an_item_carries_what_a_template_manager_shows(viewer_client, channel):
    template = _template(
        channel,
        name="order_update",
        provider_template_id="1387372356726668",
        status="REJECTED",
        rejection_reason="INVALID_FORMAT",
        quality_score="YELLOW",
    )

    item = viewer_client.get(URL).json()["results"][0]

    assert item["id"] == template.pk
    assert item["channel"] == {"id": channel.pk, "name": channel.name, "provider": "whatsapp_cloud"}
    assert item["provider_template_id"] == "1387372356726668"
    assert (item["name"], item["language"], item["category"]) == (
        "order_update",
        "en_US",
        "UTILITY",
    )
    assert (item["status"], item["rejection_reason"], item["quality_score"]) == (
        "REJECTED",
        "INVALID_FORMAT",
        "YELLOW",
    )
    assert item["can_send"] is False
    assert item["removed"] is False
    assert item["components"] == template.components
    assert {"parameter_format", "last_synced_at", "created_at", "updated_at"} <= set(item)


@pytest.mark.parametrize(
    ("params", "match", "control"),
    [
        ({"status": "paused"}, {"status": "PAUSED"}, {"status": "APPROVED"}),
        ({"category": "MARKETING"}, {"category": "MARKETING"}, {"category": "UTILITY"}),
        ({"quality": "RED"}, {"quality_score": "RED"}, {"quality_score": "GREEN"}),
        ({"language": "pt_BR"}, {"language": "pt_BR"}, {"language": "en_US"}),
        ({"q": "SALE"}, {"name": "spring_sale_2026"}, {"name": "order_update"}),
        ({"removed": "true"}, {"is_deleted": True}, {"is_deleted": False}),
    ],
)
def test_each_filter_keeps_its_match_and_drops_the_rest(
    viewer_client, channel, params, match, control
):
    wanted = _template(channel, **match)
    _template(channel, **control)

    assert _ids(viewer_client.get(URL, params)) == [wanted.pk]


def test_the_channel_filter(viewer_client, organization, channel):
    wanted = _template(channel)
    _template(ChannelFactory(organization=organization))

    assert _ids(viewer_client.get(URL, {"channel": channel.pk})) == [wanted.pk]


def test_a_bad_filter_value_is_a_validation_error(viewer_client):
    response = viewer_client.get(URL, {"quality": "PURPLE", "channel": "x"})

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert set(response.json()["details"]) == {"quality", "channel"}


def test_the_list_pages_by_cursor_without_repeats(viewer_client, channel):
    made = [_template(channel).pk for _ in range(5)]

    first = viewer_client.get(URL, {"page_size": 2}).json()
    pages = [[item["id"] for item in first["results"]]]
    next_url = first["next"]
    while next_url:
        page = viewer_client.get(next_url).json()
        pages.append([item["id"] for item in page["results"]])
        next_url = page["next"]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [pk for page in pages for pk in page] == sorted(made, reverse=True)


# --- One template ------------------------------------------------------------------


def test_a_template_comes_with_its_history_newest_first(viewer_client, channel):
    template = _template(channel)
    now = timezone.now()
    template.events.create(
        kind="created", source="sync", new_value="PENDING", occurred_at=now - timedelta(2)
    )
    template.events.create(
        kind="status",
        source="webhook",
        old_value="PENDING",
        new_value="APPROVED",
        occurred_at=now - timedelta(1),
        event_id="whatsapp:template_status:1",
    )

    body = viewer_client.get(f"{URL}{template.pk}/").json()

    assert body["id"] == template.pk
    assert [(e["kind"], e["source"], e["new_value"]) for e in body["history"]] == [
        ("status", "webhook", "APPROVED"),
        ("created", "sync", "PENDING"),
    ]
    assert body["history"][0]["old_value"] == "PENDING"


def test_another_organization_s_template_is_not_found(admin_client, graph):
    foreign = _template(ChannelFactory(organization=OrganizationFactory()))

    for response in (
        admin_client.get(f"{URL}{foreign.pk}/"),
        admin_client.delete(f"{URL}{foreign.pk}/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "NOT_FOUND"
    foreign.refresh_from_db()
    assert not foreign.is_deleted


def test_an_id_that_is_not_a_number_is_not_found(viewer_client):
    assert viewer_client.get(f"{URL}abc/").status_code == 404


# --- Roles ---------------------------------------------------------------------------


@pytest.mark.parametrize("client_name", ["viewer_client", "agent_client"])
def test_only_admins_submit_delete_and_sync(request, client_name, channel, graph):
    client = request.getfixturevalue(client_name)
    template = _template(channel)

    responses = [
        client.post(URL, {"channel": channel.pk}, format="json"),
        client.delete(f"{URL}{template.pk}/"),
        client.post(f"{URL}sync/", {}, format="json"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert {r.json()["code"] for r in responses} == {"PERMISSION_DENIED"}
    assert len(graph.calls) == 0


def test_viewers_read(viewer_client, channel):
    template = _template(channel)

    assert viewer_client.get(URL).status_code == 200
    assert viewer_client.get(f"{URL}{template.pk}").status_code == 200  # no slash either


def test_anonymous_callers_are_refused(anonymous_client):
    response = anonymous_client.get(URL)

    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


# --- Sync now ------------------------------------------------------------------------


def test_sync_queues_the_channel_and_answers_202(
    admin_client, channel, graph, django_capture_on_commit_callbacks
):
    route = list_pages(graph, [meta_template("order_update", "101")])

    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = admin_client.post(f"{URL}sync", {"channel": channel.pk}, format="json")

    assert response.status_code == 202
    assert response.json() == {
        "queued": [{"id": channel.pk, "name": channel.name, "provider": "whatsapp_cloud"}]
    }
    assert len(queued) == 1  # sent on commit, not before
    assert route.call_count == 1  # the eager worker ran it
    assert MessageTemplate.objects.get().name == "order_update"


def test_sync_without_a_channel_queues_every_whatsapp_channel_of_the_organization(
    admin_client, organization, channel, django_capture_on_commit_callbacks, graph
):
    second = ChannelFactory(organization=organization)
    ChannelFactory(organization=organization, waba_id="")
    ChannelFactory(organization=OrganizationFactory())
    list_pages(graph, [])

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"{URL}sync/", {}, format="json")

    assert response.status_code == 202
    assert [item["id"] for item in response.json()["queued"]] == [channel.pk, second.pk]


def test_sync_of_another_organization_s_channel_is_refused(admin_client, graph):
    foreign = ChannelFactory(organization=OrganizationFactory())

    response = admin_client.post(f"{URL}sync/", {"channel": foreign.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["details"]["channel"][0]["code"] == "no_templates"
    assert len(graph.calls) == 0

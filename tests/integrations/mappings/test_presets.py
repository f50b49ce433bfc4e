"""The shipped presets map real-looking Segment calls to each vendor's exact field names."""

import pytest

from integrations.mappings import mapping_apply, mapping_compile, mapping_compile_cached
from integrations.models import MappingRule, MappingSet
from tests.integrations.mappings.helpers import presets_load, segment_call

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _presets() -> None:
    presets_load()  # an earlier transactional test's flush drops migration data


def preset(name: str) -> MappingSet:
    return MappingSet.objects.get(name=name)


def test_csb_users_preset_maps_an_identify_call() -> None:
    result = mapping_apply(
        mapping=mapping_compile(mapping_set=preset("CustomerSuccessBox users")),
        call=segment_call("identify__csb_user"),
    )
    assert result.problems == []
    assert result.output == {
        "account_id": "acme-bv",
        "user_id": "user-4711",
        "email": "ann.peeters@acme.example",
        "first_name": "Ann",
        "last_name": "Peeters",
        "created_on": "2023-11-14T22:13:20.600Z",
        "updated_on": "2024-11-14T16:00:00.000Z",
        "phone": "+32 9 123 45 67",
        "title": "Head of Support",
        "role": "admin",
        "birthdate": "1990-05-17",
        "mailing_city": "Gent",
        "mailing_country": "BE",
        "mailing_postal_code": "9000",
        "mailing_state": "Oost-Vlaanderen",
        "mailing_street": "Veldstraat 1",
    }


def test_csb_accounts_preset_maps_a_group_call() -> None:
    result = mapping_apply(
        mapping=mapping_compile(mapping_set=preset("CustomerSuccessBox accounts")),
        call=segment_call("group__csb_account"),
    )
    assert result.problems == []
    assert result.output == {
        "account_id": "acme-bv",  # no traits.account_id: the groupId
        "name": "Acme BV",
        "created_on": "2019-03-01T00:00:00.000Z",
        "email": "billing@acme.example",
        "phone": "+32 9 000 00 00",
        "employees": 120,
        "industry": "Logistics",
        "billing_city": "Gent",
        "billing_country": "Belgium",
        "billing_postal_code": "9051",
        "billing_state": "Oost-Vlaanderen",
        "billing_street": "Kortrijksesteenweg 1000",
        "stage": "Onboarding",
        "licenses": 50,
    }


def test_csb_feature_preset_maps_a_track_call_with_module_general() -> None:
    result = mapping_apply(
        mapping=mapping_compile(mapping_set=preset("CustomerSuccessBox feature usage")),
        call=segment_call("track__csb_feature_default_module"),
    )
    assert result.problems == []
    assert result.output == {
        "account_id": "acme-bv",
        "user_id": "user-4711",
        "feature_id": "Project Created",
        "module_id": "General",
        "product_id": "Planner",
        "total": 3,
        "timestamp": "2024-03-05T14:30:00.250Z",
    }


def test_wootric_preset_rounds_created_at_to_the_nearest_second() -> None:
    result = mapping_apply(
        mapping=mapping_compile(mapping_set=preset("Wootric end users")),
        call=segment_call("identify__wootric"),
    )
    assert result.problems == []
    assert result.output == {
        "email": "jake@yahoo.com",
        "created_at": 1700000001,  # 1700000000500 ms
        "language": "fr",
        "segment_user_id": "019mr8mf4r",
    }


def test_hello_customer_preset_uses_the_language_table_staff_fill_in() -> None:
    respondents = preset("Hello Customer respondents")
    call = segment_call("identify__hello_customer")
    before = mapping_apply(mapping=mapping_compile(mapping_set=respondents), call=call)
    assert before.problems == ["language_UniqueID: context.locale 'nl-BE' is not in the lookup table"]

    language = respondents.rules.get(target="language_UniqueID")
    language.options = {"table": {"nl": "6f1c2c1e-0000-4d6e-9b1a-nl0000000000"}}
    language.save()
    after = mapping_apply(mapping=mapping_compile(mapping_set=respondents), call=call)
    assert after.problems == []
    assert after.output == {
        "firstName": "Lotte",
        "lastName": "Claes",
        "email": "lotte.claes@example.be",
        "custom_UniqueID": "customer-881",
        "language_UniqueID": "6f1c2c1e-0000-4d6e-9b1a-nl0000000000",
        "keyValues": {"team": "Brugge"},
    }


def test_a_custom_attribute_added_by_staff_is_mapped_by_its_api_name() -> None:
    users = preset("CustomerSuccessBox users")
    MappingRule.objects.create(mapping_set=users, position=999, source_paths="traits.plan", target="plan_c")
    result = mapping_apply(
        mapping=mapping_compile(mapping_set=users), call=segment_call("identify__csb_user")
    )
    assert result.output["plan_c"] == "enterprise"


def test_a_compiled_mapping_is_reused_until_a_rule_changes() -> None:
    wootric = preset("Wootric end users")
    compiled = mapping_compile_cached(mapping_set=wootric)
    assert mapping_compile_cached(mapping_set=MappingSet.objects.get(pk=wootric.pk)) is compiled

    wootric.rules.get(target="language").delete()
    recompiled = mapping_compile_cached(mapping_set=MappingSet.objects.get(pk=wootric.pk))
    assert "language" not in mapping_apply(mapping=recompiled, call=segment_call("identify__wootric")).output

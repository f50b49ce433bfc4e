"""Customer records in the admin: people with their traits, accounts and recent calls; erasure."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html_join

from customers.models import Account, DeletionReceipt, Identity, Membership, Person, Suppression
from customers.selectors import person_recent_events
from customers.services.erasure import people_erase, person_erase_record
from hub.admin import ReadOnlyAdmin, json_table

TIMELINE_LENGTH = 25


class IdentityInline(admin.TabularInline[Identity, Person]):
    model = Identity
    extra = 0
    fields = ("kind", "value", "created_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Person | None = None) -> bool:
        return False


class MembershipInline(admin.TabularInline[Membership, Person]):
    model = Membership
    extra = 0
    fields = ("account", "created_at")
    readonly_fields = fields
    can_delete = False
    verbose_name = "account"
    verbose_name_plural = "accounts"

    def has_add_permission(self, request: HttpRequest, obj: Person | None = None) -> bool:
        return False


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin[Person]):
    list_display = ["__str__", "user_id", "name", "source", "language", "created_at", "last_seen_at"]
    list_filter = ["source", "language"]
    search_fields = ["=email", "=user_id", "=identities__value", "name"]
    list_select_related = ["source"]
    show_full_result_count = False
    ordering = ["-last_seen_at"]
    actions = ["erase_people"]
    inlines = [IdentityInline, MembershipInline]
    fieldsets = [
        (None, {"fields": ["source", "user_id", "email", "first_name", "last_name", "name", "gender"]}),
        ("Locale", {"fields": ["language", "timezone"]}),
        ("Times", {"fields": ["created_at", "first_seen_at", "last_seen_at", "updated_at"]}),
        ("All traits", {"fields": ["pretty_traits"]}),
        ("Surveys", {"fields": ["survey_history"]}),
        ("Recent calls", {"fields": ["timeline"]}),
    ]
    readonly_fields = [
        "source",
        "user_id",
        "email",
        "first_name",
        "last_name",
        "name",
        "gender",
        "language",
        "timezone",
        "created_at",
        "first_seen_at",
        "last_seen_at",
        "updated_at",
        "pretty_traits",
        "survey_history",
        "timeline",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="traits")
    def pretty_traits(self, obj: Person) -> str:
        return json_table(obj.traits, key_label="trait")

    @admin.display(description="last calls")
    def timeline(self, obj: Person) -> str:
        events = person_recent_events(obj, limit=TIMELINE_LENGTH)
        return render_to_string("admin/customers/person/timeline.html", {"events": events})

    @admin.display(description="invitations and answers")
    def survey_history(self, obj: Person) -> str:
        # Imported here: surveys builds on customers, not the other way round.
        from surveys.selectors import person_invitations

        invitations = person_invitations(person=obj, limit=TIMELINE_LENGTH)
        return render_to_string("admin/customers/person/survey_history.html", {"invitations": invitations})

    @admin.action(description="Erase selected people (GDPR)", permissions=["delete"])
    def erase_people(self, request: HttpRequest, queryset: QuerySet[Person]) -> None:
        receipts = people_erase(people=queryset, requested_by=f"staff {request.user}")
        messages.success(request, f"Erased {len(receipts)} person(s); see Deletion receipts.")

    # Django's own delete button and "Delete selected people" are the same erasure: a person is never
    # deleted without suppressions and a receipt (and customers.models refuses any other deletion).

    def delete_model(self, request: HttpRequest, obj: Person) -> None:
        person_erase_record(person=obj, requested_by=f"staff {request.user}")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Person]) -> None:
        people_erase(people=queryset, requested_by=f"staff {request.user}")

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        # Django's message would quote str(person), their email, into the session's message store.
        return super().response_delete(request, f"#{obj_id} (erased; see Deletion receipts)", obj_id)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin[Account]):
    list_display = [
        "__str__",
        "group_id",
        "source",
        "industry",
        "plan",
        "employees",
        "member_count",
        "created_at",
    ]
    list_filter = ["source", "industry", "plan"]
    search_fields = ["=group_id", "name"]
    list_select_related = ["source"]
    readonly_fields = (
        "source",
        "group_id",
        "name",
        "industry",
        "employees",
        "plan",
        "created_at",
        "first_seen_at",
        "updated_at",
        "pretty_traits",
        "members",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return super().get_queryset(request).annotate(people_count=Count("memberships"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="people", ordering="people_count")
    def member_count(self, obj: Account) -> int:
        return getattr(obj, "people_count", 0)

    @admin.display(description="traits")
    def pretty_traits(self, obj: Account) -> str:
        return json_table(obj.traits, key_label="trait")

    @admin.display(description="people")
    def members(self, obj: Account) -> str:
        people = obj.people.all()[:50]
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:customers_person_change", args=[p.pk]), str(p)) for p in people),
        )


@admin.register(Suppression)
class SuppressionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "scope", "reason", "kind", "value_hash", "key_id"]
    list_filter = ["reason", "kind", "source", "key_id"]
    list_select_related = ["source"]

    @admin.display(description="source", ordering="source")
    def scope(self, obj: Suppression) -> str:
        return str(obj.source) if obj.source is not None else "every source"


@admin.register(DeletionReceipt)
class DeletionReceiptAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "source", "requested_by", "what"]
    list_filter = ["source"]
    fields = ("requested_at", "source", "requested_by", "user_id_hash", "pretty_erased")
    readonly_fields = fields

    @admin.display(description="erased")
    def what(self, obj: DeletionReceipt) -> str:
        return ", ".join(f"{k}: {v}" for k, v in obj.erased.items())

    @admin.display(description="what was erased")
    def pretty_erased(self, obj: DeletionReceipt) -> str:
        return json_table(obj.erased, key_label="what", value_label="rows")

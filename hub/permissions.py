"""Who may call what in the management API (/api/): staff, with Django's model permissions.

Kept apart from hub/api.py: DRF imports the default permission classes while rest_framework.views
loads, so this module must not import that.
"""

from typing import Any

from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request


class StaffModelPermissions(DjangoModelPermissions):
    """The management API's default: staff status, plus Django's model permission for the method.

    Reading needs `view_<model>` too (DRF's own class lets any authenticated user read), so the
    groups staff are given in the admin decide what each one may read and change over the API.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_staff) and super().has_permission(request, view)


def staff_with_permissions(*permissions: str) -> type[BasePermission]:
    """A permission class for a view or action that is not a model's plain read or write (a replay,
    a "why not surveyed"): staff status and every permission named ("app_label.codename")."""

    class StaffWithPermissions(BasePermission):
        def has_permission(self, request: Request, view: Any) -> bool:
            user = request.user
            return bool(user and user.is_staff and user.has_perms(permissions))

    StaffWithPermissions.__name__ = StaffWithPermissions.__qualname__ = f"StaffWith({', '.join(permissions)})"
    return StaffWithPermissions

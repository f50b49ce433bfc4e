#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError, ProgrammingError

    try:
        execute_from_command_line(sys.argv)
    except (ImproperlyConfigured, OperationalError, ProgrammingError) as exc:
        # A command that cannot start (no configuration, no database, not migrated) says what is
        # missing in one line; --traceback still shows where.
        if "--traceback" in sys.argv:
            raise
        what = "database" if isinstance(exc, (OperationalError, ProgrammingError)) else "configuration"
        hint = " (is it reachable and migrated? `make run` migrates it)" if what == "database" else ""
        message = " ".join(str(exc).split())
        sys.exit(f"manage.py {' '.join(sys.argv[1:2])}: {what}: {message}{hint}")


if __name__ == "__main__":
    main()

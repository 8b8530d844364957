"""The ``casedesk`` command: the project's manage.py, installed as a console script."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casedesk.settings")
    from casedesk.lib.env import ConfigError

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load settings now, so a bad variable is reported plainly
    except ConfigError as exc:
        print(f"casedesk: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    from django.core.management import execute_from_command_line

    execute_from_command_line(argv if argv is not None else sys.argv)


if __name__ == "__main__":
    main()

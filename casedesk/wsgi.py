"""WSGI entry point, for servers that do not speak ASGI (no live chat through them)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casedesk.settings")

application = get_wsgi_application()

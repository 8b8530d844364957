"""ASGI entry point: `casedesk run` and `uvicorn casedesk.asgi:application` serve this."""

import os
import warnings

from django.core.asgi import get_asgi_application

# WhiteNoise serves static files with a synchronous file iterator; under ASGI Django
# warns about it on every file. That is expected here (files are small and cached).
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casedesk.settings")

django_application = get_asgi_application()

from casedesk.core.bodylimit import BodyLimit  # noqa: E402 - needs the settings loaded above

# Oversized bodies are refused before Django spools them to disk (core/bodylimit.py).
application = BodyLimit(django_application)

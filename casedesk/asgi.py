"""ASGI entry point: `casedesk run` and `uvicorn casedesk.asgi:application` serve this.

HTTP goes to Django (behind the body limit); WebSockets (live chat) go to the chat's
consumers, with the session cookie's user, from casedesk's own origin only (chat/origins.py).
"""

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

# These need the settings loaded above.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from casedesk.chat.origins import SameOriginValidator  # noqa: E402
from casedesk.chat.routing import websocket_urlpatterns  # noqa: E402
from casedesk.core.bodylimit import BodyLimit  # noqa: E402
from casedesk.core.webthreads import BoundedThreads  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Oversized bodies are refused before Django spools them to disk (core/bodylimit.py);
        # pages run on WEB_THREADS threads per process, not a new thread per request, so
        # throughput holds as clients grow (core/webthreads.py).
        "http": BodyLimit(BoundedThreads(django_application, settings.WEB_THREADS)),
        # A page of another origin cannot open a socket with our visitor's cookie.
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

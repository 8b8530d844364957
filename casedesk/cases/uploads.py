"""A ceiling on the files one request may upload, enforced while the body streams in.

The per-file size and type rules are in ``cases.files`` and give the person a
clear message; they run after Django has received the files. This handler
refuses (400) a request whose files together exceed what any reply may carry
(``ATTACHMENT_MAX_FILES`` files of ``ATTACHMENT_MAX_BYTES``) while Django parses
them. Under ASGI the body is already spooled by then: ``core.bodylimit`` is the
guard of the disk, this one of WSGI servers and of the parser.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler

from casedesk.core.bodylimit import upload_ceiling

logger = logging.getLogger("casedesk.cases")


class BoundedUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > upload_ceiling():
            logger.warning(
                "upload stopped: more than %d bytes of files in one request to %s",
                upload_ceiling(),
                getattr(self.request, "path", "?"),
            )
            # A 400 for the whole request: stopping quietly would let the view run
            # with the files received so far, and post a reply without the rest.
            raise RequestDataTooBig(f"the files of one request exceed {upload_ceiling()} bytes")
        return raw_data  # on to the next handler, which stores it

    def file_complete(self, file_size: int) -> None:
        return None

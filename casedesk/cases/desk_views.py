"""The agent desk (being built)."""

from django.http import HttpRequest, HttpResponse


def queue(request: HttpRequest) -> HttpResponse:
    return HttpResponse("queue")


def case_page(request: HttpRequest, reference: str) -> HttpResponse:
    return HttpResponse(reference)

"""The customer portal (being built)."""

from django.http import HttpRequest, HttpResponse


def case_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("portal")


def new_case(request: HttpRequest) -> HttpResponse:
    return HttpResponse("new")


def case_page(request: HttpRequest, reference: str) -> HttpResponse:
    return HttpResponse(reference)


def opened(request: HttpRequest, reference: str) -> HttpResponse:
    return HttpResponse(reference)

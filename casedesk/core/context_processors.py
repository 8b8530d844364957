from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Values every page template may use."""
    return {
        "base_url": settings.BASE_URL,
        "debug": settings.DEBUG,
        "support_email": settings.SUPPORT_EMAILS[0],
        "emergency_phone": settings.EMERGENCY_PHONE,
        "site_name": settings.OTP_TOTP_ISSUER,
    }

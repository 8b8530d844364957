from django.urls import path

from casedesk.chat import consumers

websocket_urlpatterns = [
    path("ws/chat/<int:pk>/", consumers.ChatConsumer.as_asgi()),
    path("ws/desk/chat/", consumers.DeskConsumer.as_asgi()),
]

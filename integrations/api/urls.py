from django.urls import path

from integrations.stream_view import stream_view

urlpatterns = [
    path("stream", stream_view, name="stream"),
]

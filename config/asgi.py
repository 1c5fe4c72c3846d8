"""The ASGI application: the whole site under uvicorn, the live stream
(/api/v1/stream) included.

In development (`make run`, DEBUG on) uvicorn is the one server, so it also serves the
static files (the admin's CSS and JavaScript, Swagger UI) as runserver did; production
serves them from the proxy (README, Production).
"""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()

if settings.DEBUG:
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    application = ASGIStaticFilesHandler(application)

"""WSGI app for benchmarks: the real app, with the baseline view added."""

import os

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
settings.ROOT_URLCONF = "bench.urls"
application = get_wsgi_application()

"""WSGI app for benchmarks: the real app, with the baseline view added."""

import gc
import os
from importlib import import_module

import django
from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
settings.ROOT_URLCONF = "bench.urls"
application = get_wsgi_application()
import_module(settings.ROOT_URLCONF)  # then freeze, as config/wsgi.py does
gc.freeze()

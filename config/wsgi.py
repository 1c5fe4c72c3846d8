import gc
import os
from importlib import import_module

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from config.chunked import ChunkedBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = ChunkedBodyMiddleware(get_wsgi_application())

# Everything imported by now (every view, through the URLconf, which Django would
# otherwise import on the first request) lives as long as the process. Frozen, the
# garbage collector's full passes skip it; otherwise one request in ~40 stalled by
# ~100 ms while they walked it (bench/inbox.py).
import_module(settings.ROOT_URLCONF)
gc.freeze()

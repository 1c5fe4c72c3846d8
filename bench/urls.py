"""The app's URLs plus a baseline: the least a Django view can do to keep a webhook (one
INSERT of the raw body). The ingest benchmark measures both in the same run."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns


@csrf_exempt
def insert_one(request):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bench_baseline (body, received_at) VALUES (%s, now())", [request.body]
        )
    return HttpResponse("ok")


urlpatterns = [path("bench/insert/", insert_one), *app_urlpatterns]

"""django-prometheus on a one-file Django project: /predict (?fail=1 answers 500), /health and /metrics,
served by Django's own threaded development server (the middleware is the same under any WSGI server)."""

import sys

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="streamflow-test",
    INSTALLED_APPS=["django_prometheus"],
    MIDDLEWARE=[
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ],
)

from django.http import JsonResponse  # noqa: E402
from django.urls import include, path  # noqa: E402


def predict(request):
    fail = bool(request.GET.get("fail"))
    return JsonResponse({"ok": not fail}, status=500 if fail else 200)


def health(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("predict", predict, name="predict"),
    path("health", health, name="mysite.health"),
    path("", include("django_prometheus.urls")),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0], "runserver", f"127.0.0.1:{sys.argv[1]}", "--noreload", "--nothreading"])

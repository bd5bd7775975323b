from django.urls import path

from amocrm import views

app_name = "amocrm"

urlpatterns = [
    path("oauth/start/", views.oauth_start, name="oauth_start"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
    path("webhook/<str:secret>/", views.webhook, name="webhook"),
]

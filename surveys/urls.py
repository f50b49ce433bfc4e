"""The public survey pages, reached from the links in the survey email."""

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("s/<str:token>/", views.respond, name="respond"),
    path("s/<str:token>/thanks/", views.thanks, name="thanks"),
    path("s/<str:token>/unsubscribe/", views.unsubscribe, name="unsubscribe"),
]

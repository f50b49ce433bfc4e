"""The public page a customer reaches from a case's "did we solve it?" email."""

from django.urls import path

from actions import views

app_name = "actions"

urlpatterns = [
    path("c/<str:token>/", views.case_followup, name="case_followup"),
]

"""Testimonials' public addresses: consent under a survey link, withdrawal, embeds."""

from django.urls import path

from testimonials import views

app_name = "testimonials"

urlpatterns = [
    path("s/<str:token>/quote/", views.consent, name="consent"),
    path("t/<str:token>/withdraw/", views.withdraw, name="withdraw"),
    path("embed/testimonials.json", views.embed_json, name="embed_json"),
    path("embed/testimonials/", views.embed_frame, name="embed_frame"),
]

from django.apps import AppConfig


class TestimonialsConfig(AppConfig):
    """Testimonials: a promoter's consented quote, moderated by staff, shown in embeds on any website.

    Reads the surveys' data (responses, invitations, people); nothing below imports it. Surveys reach it
    only through the dotted paths named in hub/pipeline.py (the thank-you page's part, the merge, erase
    and unsubscribe hooks).
    """

    name = "testimonials"
    verbose_name = "Testimonials"

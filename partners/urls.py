"""The partners app's URLs: agreement documents (included at the root by portal.urls)."""

from django.urls import path

from partners import views

app_name = "partners"

urlpatterns = [
    path("agreements/<int:agreement_id>/document/", views.agreement_document, name="agreement_document"),
]

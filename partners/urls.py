"""The partners app's URLs: a partner's agreement page and agreement documents (included at the root by
portal.urls)."""

from django.urls import path

from partners import views

app_name = "partners"

urlpatterns = [
    path("partners/<slug:slug>/agreement/", views.agreement_page, name="agreement"),
    path("agreements/<int:agreement_id>/document/", views.agreement_document, name="agreement_document"),
    path("agreements/versions/<int:version_id>/document/", views.agreement_version_document,
         name="agreement_version_document"),
]

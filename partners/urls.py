"""The partners app's URLs: a partner's agreement page, its webhooks and agreement documents (included at the root by
portal.urls)."""

from django.urls import path

from partners import views, views_webhooks

app_name = "partners"

urlpatterns = [
    path("partners/<slug:slug>/agreement/", views.agreement_page, name="agreement"),
    path("partners/<slug:slug>/webhooks/", views_webhooks.webhooks_page, name="webhooks"),
    path("partners/<slug:slug>/webhooks/<int:pk>/<str:action>/", views_webhooks.webhook_endpoint_action,
         name="webhook_action"),
    path("agreements/<int:agreement_id>/document/", views.agreement_document, name="agreement_document"),
    path("agreements/versions/<int:version_id>/document/", views.agreement_version_document,
         name="agreement_version_document"),
]

"""Onboarding pages: partners, lists, the review queue, invites and their acceptance."""

from django.urls import path

from onboarding.views import asking_again, directory, exports, invites, partners, people, requests, review

app_name = "onboarding"

urlpatterns = [
    path("partners/", partners.partner_list, name="partner_list"),
    path("partners/people.csv", exports.people_csv, name="people_csv"),
    path("partners/<slug:slug>/", partners.partner_detail, name="partner_detail"),
    path("partners/<slug:slug>/people.csv", exports.partner_people_csv, name="partner_people_csv"),
    path("partners/<slug:slug>/people/<int:item_id>/", partners.person_timeline, name="person_timeline"),
    path("partners/<slug:slug>/access/", people.people, name="people"),
    path("partners/<slug:slug>/access/<int:user_id>/", people.person, name="person"),
    path("partners/<slug:slug>/access/<int:user_id>/change/", people.person_change, name="person_change"),
    path("partners/<slug:slug>/people/<int:item_id>/ask-again/", asking_again.ask_again, name="item_ask_again"),
    path("partners/<slug:slug>/directory/", directory.people, name="directory_people"),
    path("partners/<slug:slug>/directory/add/", directory.person_add, name="directory_person_add"),
    path("partners/<slug:slug>/directory/<int:person_id>/", directory.person_edit, name="directory_person_edit"),
    path("partners/<slug:slug>/directory/<int:person_id>/remove/", directory.person_remove,
         name="directory_person_remove"),
    path("partners/<slug:slug>/directory/changes/check/", directory.change_file_check, name="directory_change_check"),
    path("partners/<slug:slug>/directory/changes/apply/", directory.change_file_apply, name="directory_change_apply"),
    path("partners/<slug:slug>/directory/changes/", directory.changes, name="directory_changes"),
    path("partners/<slug:slug>/requests/new/", requests.request_new, name="request_new"),
    path("partners/<slug:slug>/requests/check/", requests.request_row_check, name="request_row_check"),
    path("partners/<slug:slug>/requests/<int:request_id>/", requests.request_detail, name="request_detail"),
    path("partners/<slug:slug>/invites/<int:invite_id>/resend/", invites.resend, name="invite_resend"),
    path("partners/<slug:slug>/invites/<int:invite_id>/revoke/", invites.revoke, name="invite_revoke"),
    path("partners/<slug:slug>/mail/<int:mail_id>/resend/", partners.mail_resend, name="mail_resend"),
    path("review/", review.queue, name="review_queue"),
    path("review/decide/", review.decide, name="review_decide"),
    # No token in any of these paths: it travels in the link's fragment and in POST bodies, which servers and
    # proxies do not log (see views.invites.open_link).
    path("invite/", invites.open_link, name="invite_open"),
    path("invite/accept/", invites.accept, name="invite_accept"),
    path("invite/renew/", invites.renew, name="invite_renew"),
    path("invite/sso/complete/", invites.accept_sso, name="invite_accept_sso"),
    # Links mailed before the token moved into the fragment: answered, never looked up.
    path("invite/<str:token>/", invites.outdated_link, name="invite_outdated"),
    path("invite/<str:token>/renew/", invites.outdated_link),
]

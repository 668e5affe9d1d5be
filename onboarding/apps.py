"""App config for onboarding."""

from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        # directory_sync announces successful runs; onboarding re-checks what waits on them.
        from django.db.models.signals import post_save

        from directory_sync.services.scim import scim_domain_check_register
        from directory_sync.signals import people_changed, sync_run_succeeded
        from onboarding import tasks  # noqa: F401 - registers the tasks that services queue by name
        from onboarding.receivers import (
            flag_requests_at_saved_domain,
            recheck_after_people_changed,
            recheck_after_sync,
        )
        from onboarding.selectors.domains import vendor_domains_refused
        from partners.models import AccountDomain

        sync_run_succeeded.connect(recheck_after_sync, dispatch_uid="onboarding.recheck_after_sync")
        people_changed.connect(recheck_after_people_changed, dispatch_uid="onboarding.recheck_after_people_changed")
        # A domain added to one partner's account flags other partners' open requests for it (partners is
        # below onboarding and knows nothing of requests).
        post_save.connect(flag_requests_at_saved_domain, sender=AccountDomain,
                          dispatch_uid="onboarding.flag_requests_at_saved_domain")
        # People pushed by SCIM are refused at the vendor's own domains, as those typed in the portal are.
        scim_domain_check_register(vendor_domains_refused)

"""App config for onboarding."""

from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Onboarding"

    def ready(self) -> None:
        # directory_sync announces successful runs; onboarding re-checks what waits on them.
        from directory_sync.signals import sync_run_succeeded
        from onboarding import tasks  # noqa: F401 - registers the tasks that services queue by name
        from onboarding.receivers import recheck_after_sync

        sync_run_succeeded.connect(recheck_after_sync, dispatch_uid="onboarding.recheck_after_sync")

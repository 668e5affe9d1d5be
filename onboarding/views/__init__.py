"""Views of onboarding, one module per area."""

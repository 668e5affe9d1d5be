"""The kernel every app stands on: audit trail, email normalisation, secrets at rest, mail, admin helpers, errors."""

"""What every part of the REST API (/api/v1/) shares: problem-details errors (RFC 9457), cursor pagination, a rate
limit per token, and Idempotency-Key replay for creating POSTs. Each app's `api` package builds its resources on
these, calling its own services and selectors, as its pages do."""

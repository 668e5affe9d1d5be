"""The API's authentication (API tokens, as their person) and the permissions every resource starts from."""

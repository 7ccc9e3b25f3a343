"""Credentials the test registries accept. Distinctive, so the secret-leak tests can grep for them."""

USER = "mirror-admin"
PASSWORD = "Pw-7f3kQz9-never-printed"
TOKEN_SERVICE = "mirror-wizard-test-registry"
TOKEN_ISSUER = "mirror-wizard-test-issuer"

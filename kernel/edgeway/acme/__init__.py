"""ACME certificate resolvers (``certificatesResolvers.<name>.acme``), Traefik-compatible."""

"""TLS termination: certificates, stores, options and the ClientHello (see each module)."""

"""AFIP padrón A5 lookups: customer data from a CUIT, and the organisation's own data at onboarding."""

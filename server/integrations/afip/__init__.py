"""AFIP (ARCA): WSAA, WSFEv1 and padrón A5."""

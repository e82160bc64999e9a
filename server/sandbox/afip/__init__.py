"""AFIP sandbox: WSAA, WSFEv1 and padrón A5 over SOAP on 127.0.0.1."""

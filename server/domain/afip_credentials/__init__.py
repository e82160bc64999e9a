"""AFIP certificate onboarding: key + CSR made here, AFIP's certificate uploaded and checked; WSAA tickets."""

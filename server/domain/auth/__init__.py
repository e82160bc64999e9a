"""Identity: sign-up, phone OTP login, access and refresh tokens, sessions, role guards."""

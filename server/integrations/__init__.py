"""Clients of outside services (WhatsApp Business Cloud API, …); each is tested against its sandbox."""

"""Customers: contacts, documents, addresses, search and history."""

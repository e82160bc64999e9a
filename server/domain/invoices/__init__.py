"""Invoices: drafts, CAE requests through the ``afip`` queue, notes, and the printed PDF with the RG 4291 QR."""

"""Payments: manual payments, Mercado Pago (connect, links, webhooks, reconciliation), refunds, disputes."""

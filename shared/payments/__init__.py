"""Payment rules as plain functions: financing costs of cuotas (CFT/TEA), refunds, disputes, settlement."""

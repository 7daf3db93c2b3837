"""Plans: tiers of limits, entitlements and prices."""

"""What customers and admins see of usage, limits and balances (reads only)."""

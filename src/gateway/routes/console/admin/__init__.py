"""The admin pages of the console (the admin key or an admin user's key)."""

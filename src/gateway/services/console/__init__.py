"""The web console's sessions: signing in with a key, the session it opens, its CSRF token."""

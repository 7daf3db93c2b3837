"""Rate limits: every window of an inference request checked and counted at once
(`rate_limiter`), admins' per-user and per-key limits (`overrides`), and the per-IP
throttle of public routes (`throttle`)."""

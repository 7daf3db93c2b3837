"""HTTP only: parse, call a service, shape the answer. No SQL, no business rules."""

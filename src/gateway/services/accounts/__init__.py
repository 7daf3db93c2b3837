"""Customers: opening an account (`signup`), their profile and closing it (`profile`),
finding one for an admin (`lookup`), and suspending or reactivating it (`status`)."""

"""Customers: opening an account (`signup`), their profile and closing it (`profile`), and
finding one for an admin (`lookup`)."""

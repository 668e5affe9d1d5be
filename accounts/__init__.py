"""Portal users and their roles; sign-in and two-factor build on this app."""

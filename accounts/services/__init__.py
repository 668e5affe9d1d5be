"""Services of the accounts app: sign-in rules, two-factor, passwords."""

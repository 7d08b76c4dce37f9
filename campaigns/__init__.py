"""The campaign domain: plain types and pure decisions.

Nothing in this package does I/O, reads the clock or draws random numbers on its own:
time and randomness are arguments. It imports only the standard library, phonenumbers
and tz data.
"""

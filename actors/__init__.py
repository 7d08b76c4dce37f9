"""Ray actors: supervisor, one per campaign, one per phone number.

Not built yet: see the actors issue.
"""

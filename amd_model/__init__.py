"""Answering-machine detection: features, the streaming detector and the shipped model.

Not built yet: see the AMD issue.
"""

"""Training-time code for AMD: corpus generation, dataset building, training, export.

Never imported by the runtime detector (``amd_model.api``); it needs the speech tools
(espeak-ng, flite, festival) and scikit-learn.
"""

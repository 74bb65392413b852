"""Pure computation for Xingtu: scores, location models, forecasts and allocation plans.

Arrays and frames in, typed results out. Nothing in this package touches the disk or imports a UI.
"""

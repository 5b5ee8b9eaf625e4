"""Recommendations that learn: an implicit-feedback model with time of day.

:mod:`data` turns stored views into interaction matrices, :mod:`model` trains the ALS
model (per time-of-day user factors), :mod:`baselines` are popularity and co-watch,
:mod:`evaluate` compares them on a temporal split, :mod:`store` and :mod:`train` load,
train and publish a model version, :mod:`timer` retrains it on a worker's timer.
"""

"""Dispatch: confirmed orders batched by store and direction, matched with nearby shoppers."""

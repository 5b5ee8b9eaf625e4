"""Viewing: playback events become sessions, profiles, recommendations and trending."""

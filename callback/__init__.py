"""Callbacks: a caller books a tijdvak, an advisor calls back within it."""

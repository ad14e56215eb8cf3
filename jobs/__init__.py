"""Batch aggregation, training and the streaming aggregation app."""

"""The batch aggregation job: engines, input validation, output publishing, cloud launch."""

"""Command modules of the ``xingtu`` CLI, one per job."""

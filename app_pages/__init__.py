"""Pages of the Xingtu map app (listed in ``app.py``); ``common`` holds what they share."""

"""The job layer: the one place that turns inputs and settings into a finished result.

Each job is a module: :mod:`.weekly` (the weekly stock plan), :mod:`.siting` (new store sites)
and :mod:`.repair` (new repair shops); :mod:`.site_files` (a siting run's GeoJSON, GeoPackage,
Excel and one-page HTML report), :mod:`.team_layers` (the layers the team brings),
:mod:`.battlefields` (areas ranked to enter) and :mod:`.kept_inputs` (uploads, team layers and
chosen battlefields kept in the database for a new browser session). A job runs the library,
fingerprints or records the result, and commits its files and database row together
(:mod:`.outputs`). The CLI commands, ``xingtu demo``, the notebooks and the app's pages call
these modules and only parse arguments or draw.
"""

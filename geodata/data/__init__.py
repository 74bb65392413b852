"""Data files shipped with geodata: the GeoNames extract of the demo region."""

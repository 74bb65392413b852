"""Files, geometry and H3 for Xingtu: validated inputs, H3 gridding, the layer table, the demo region."""

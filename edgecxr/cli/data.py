"""`edgecxr data ...` (written by the dataset layer)."""

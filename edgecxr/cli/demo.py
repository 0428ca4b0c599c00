"""`edgecxr demo` (wired as stages land)."""

"""The hnswlib vector index: integer ids in, integer ids out; a rebuildable cache of the catalog."""

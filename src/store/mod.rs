//! The on-disk store: an OCI image layout (blobs, index.json with tags), cache index, locks, gc.

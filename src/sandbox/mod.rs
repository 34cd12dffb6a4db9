//! Run one process in Linux namespaces over a root filesystem: `Spec` in, exit status out. Knows nothing of images or build plans.

//! Issue 11 point 4: `DatasetExport` manifests planned and applied against the emulator as a
//! Data Lake source connection, a dataset target connection and a dataset flow
//! ([`dataset_export`]), including the source-connection swap of a changed dataset list.

mod dataset_export;

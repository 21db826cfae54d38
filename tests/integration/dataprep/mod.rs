//! Issue 11 point 4: `DatasetExport` manifests planned and applied against the emulator as a
//! Data Lake source connection, a dataset target connection and a dataset flow
//! ([`dataset_export`]), including the source-connection swap of a changed dataset list; the
//! emulator's Data Lake source connections and dataset flows ([`emulator`]); `validate` of
//! DatasetExport manifests ([`manifests`]). Issue 11 point 3, its emulator part: the Data Prep
//! API's schemas and versioned mapping sets ([`mapping_sets`]).

mod dataset_export;
mod emulator;
mod manifests;
mod mapping_sets;

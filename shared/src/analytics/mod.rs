//! Sales analytics, answered from the rollups kept current at ingest. Reserved for the
//! analytics feature.

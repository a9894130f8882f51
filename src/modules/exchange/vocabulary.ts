/** The closed vocabularies of the exchange's ingest. */

/**
 * What happens to a batch with invalid rows: `reject` (the default) refuses it whole, listing
 * every bad row; `quarantine` applies the valid rows and keeps the invalid ones for the provider
 * to fix. Nothing is dropped silently either way.
 */
export const INGEST_POLICIES = ['reject', 'quarantine'] as const;
export type IngestPolicy = (typeof INGEST_POLICIES)[number];

export const CHANGE_OPERATIONS = ['upsert', 'delete'] as const;
export type ChangeOperation = (typeof CHANGE_OPERATIONS)[number];

/** Files a provider uploads: CSV (UTF-8 or GB18030/GBK), NDJSON (one JSON object a line) and XLSX (the first sheet). */
export const LOAD_FORMATS = ['csv', 'ndjson', 'xlsx'] as const;
export type LoadFormat = (typeof LOAD_FORMATS)[number];

export const CSV_ENCODINGS = ['utf-8', 'gb18030'] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];

/** Where a batch came from (the audit record and the batch row say so). */
export const BATCH_SOURCES = ['api', 'file'] as const;
export type BatchSource = (typeof BATCH_SOURCES)[number];

/** At most this many problems are listed in one answer; the count is always complete. */
export const MAX_LISTED_PROBLEMS = 10_000;

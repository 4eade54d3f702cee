/** Call detail records: the store port, its SQLite implementation, the recorder, queries and their HTTP handlers. */
export { SqliteCdrStore, type CdrStore, type CdrPage, type CdrStats, type SqliteCdrOptions } from './sqlite'
export { recordCalls, type CdrRecorder } from './recorder'
export { callDurations, recordFromSnapshot, recordFromTrace, type CdrRecord, type CdrDurations } from './record'
export { parseTime, queryFromParams, OUTCOMES, MAX_LIMIT, DEFAULT_LIMIT, type CdrQuery } from './query'
export { recordJson, recordCsv, recordsCsv, CSV_HEADER, type CdrJson } from './render'
export { cdrList, cdrCall, CDR_PROBLEMS, type CdrHttpResponse, type CdrListBody } from './http'
export { CdrQueryError, CdrUnavailableError } from './errors'
export { COLUMNS } from './schema'

export { Archiver, type ArchiverOptions, type PassSummary } from './archiver.js'
export { ArchiverMetrics } from './metrics.js'
export { loadArchiverConfig, ConfigError, type ArchiverConfig } from './config.js'

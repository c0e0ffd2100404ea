export { buildApp, type AppOptions } from './app.js'
export { loadConfig, ConfigError, type Config } from './config.js'
export { ApiError } from './errors.js'

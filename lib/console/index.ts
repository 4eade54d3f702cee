/** The web console: /console/ (page, style sheet, script) and its event stream /console/events, for the HTTP front-end to mount. */
export { createConsole, handleConsole, isConsolePath, type ConsoleContext, type ConsoleOptions } from './handler'
export { CONTENT_SECURITY_POLICY } from './headers'
export { DEFAULT_STREAM_LIMITS, type ConsoleCall, type StreamCounters, type StreamLimits } from './stream'

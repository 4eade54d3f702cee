/** The running server: wires config, logging, SIP, calls and front-ends. */
export { startServer, type RunningServer, type ServerOverrides } from './server'
export { startEventOutputs, checkEventSettings, type EventOutputs, type EventOutputOverrides } from './outputs'
export { validateConfig } from './validate'
export { planReload, changedFields, restartFields, LIVE_FIELDS, type ReloadPlan } from './reload'

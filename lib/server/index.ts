/** The running server: wires config, logging, SIP, calls and front-ends. */
export { startServer, type RunningServer, type ServerOverrides } from './server'

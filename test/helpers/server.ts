/** Start the whole server in-process on ephemeral loopback ports, for tests. */
import pino from 'pino'
import { defaultConfig, type Config } from '../../lib/config'
import { startServer, type RunningServer, type ServerOverrides } from '../../lib/server'

export interface TestServer {
  server: RunningServer
  config: Config
  xmlPort: number
  httpPort: number
  sipPort: number
  close(): Promise<void>
}

export async function startTestServer(settings: Partial<Config> = {}, overrides: ServerOverrides = {}): Promise<TestServer> {
  const config: Config = {
    ...defaultConfig(),
    ipAddress: '127.0.0.1',
    udpTcpPort: 0,
    clickToCallIdentity: 'sip:click2call@127.0.0.1',
    logFilename: '',
    cdrDatabase: '',
    translationRules: [
      { pattern: '^(sips?:.*)$', output: '$1', file: 'test', line: 1 },
      { pattern: '^(\\d+)$', output: 'sip:$1@127.0.0.1:9', file: 'test', line: 2 },
    ],
    ...settings,
  }
  const logger = pino({ level: process.env.CTC_TEST_LOG ?? 'silent' })
  const server = await startServer(config, logger, { ephemeralPorts: true, advertisedHost: '127.0.0.1', ...overrides })
  return {
    server,
    config,
    xmlPort: server.xml?.port ?? 0,
    httpPort: server.http?.port ?? 0,
    sipPort: server.sip.port,
    close: () => server.close(2000),
  }
}

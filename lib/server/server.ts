/**
 * The running server: config -> SIP stack -> call manager -> front-ends.
 * Start-up is all-or-nothing (a port that cannot be bound closes what was
 * opened and rejects with BindError); close() is the graceful shutdown.
 */
import dns from 'node:dns'
import type { Logger } from 'pino'
import type { Config } from '../config'
import type { Translator } from '../translate'
import { createSipStack, type SipStack, type SipCredentials } from '../sip'
import { CallManager } from '../call'
import { createXmlFrontEnd, createXmlFrontEndThread, type AdmissionData, type XmlThreadFrontEnd } from '../xml'
import { createHttpFrontEnd, httpSettingsOf, type HttpFrontEnd } from '../http'
import { createJsonRpcFrontEnd, type JsonRpcFrontEnd, type JsonRpcLiveSettings } from '../jsonrpc'
import { ConfigError } from '../errors'
import { version } from '../version'
import { startEventOutputs, type EventOutputs, type EventOutputOverrides } from './outputs'
import { validateConfig } from './validate'
import { planReload, type ReloadPlan } from './reload'
import { sipConnectionOptions, sipReloadOptions, sipTlsOptions } from './sip-options'

export interface RunningServer {
  readonly sip: SipStack
  readonly calls: CallManager
  /** the XML port, on its own thread (XmlRpcThread) or not */
  readonly xml: XmlThreadFrontEnd | undefined
  readonly http: HttpFrontEnd | undefined
  readonly jsonrpc: JsonRpcFrontEnd | undefined
  /** webhooks, action URLs and the CDR store (`outputs.cdr`) */
  readonly outputs: EventOutputs
  /**
   * A re-read config (SIGHUP): validated like start-up (a ConfigError leaves
   * everything as it was), then every setting that can change without a new
   * socket takes effect; the others are named in `restart-needed` warnings.
   */
  reload(config: Config): ReloadPlan
  /** stop listening at once, end calls in progress (final results, CANCEL/BYE), bounded */
  close(timeoutMs?: number): Promise<void>
}

export interface ServerOverrides {
  /** host written in Via/Contact (tests use 127.0.0.1) */
  advertisedHost?: string
  /** SIP timer overrides, for tests */
  sipTimers?: { T1?: number; T2?: number; T4?: number; noNotifyTimeoutMs?: number }
  /** grace after the initiator's BYE during a referral, ms */
  referByeGraceMs?: number
  maxCalls?: number
  /** HTTP authentication failures from one address before it is refused for a while */
  maxAuthFailures?: number
  /** lifetime of HTTP Digest nonces, ms (tests) */
  nonceTtlMs?: number
  /** webhook backoff, CDR flush interval (tests) */
  events?: EventOutputOverrides
  /** HTTP connection timers, ms (tests) */
  httpTimers?: { idleTimeoutMs?: number; headersTimeoutMs?: number; closeGraceMs?: number }
  /** listen on ephemeral ports for every enabled front-end (tests run in parallel) */
  ephemeralPorts?: boolean
  /** JSON-RPC ping period and slow-reader bound (tests) */
  jsonRpc?: { pingIntervalMs?: number; maxBufferedBytes?: number }
}

function headerMap(headers: { name: string; value: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const h of headers) (out[h.name] ??= []).push(h.value)
  return out
}

function credentials(config: Config): SipCredentials[] | undefined {
  if (!config.sipAuthUser) return undefined
  const c: SipCredentials = { username: config.sipAuthUser, password: config.sipAuthPassword }
  if (config.sipAuthRealm) c.realm = config.sipAuthRealm
  return [c]
}

function translatorFn(t: Translator): (address: string) => string | undefined {
  return (address) => t.translate(address)?.output
}

/** the XML port's settings a reload can change */
function xmlSettingsOf(config: Config) {
  return {
    allow: config.xmlRpcAllow,
    maxRequestSize: config.xmlRpcMaxRequestSize,
    maxConnections: config.xmlRpcMaxConnections,
    maxConnectionsPerAddress: config.xmlRpcMaxConnectionsPerAddress,
    maxCallsPerConnection: config.xmlRpcMaxCallsPerConnection,
    rateLimit: config.xmlRpcRateLimit,
    idleTimeoutMs: config.xmlRpcIdleTimeout * 1000,
    ...(config.xmlRpcTlsCertificate && config.xmlRpcTlsPrivateKey
      ? { tls: { certFile: config.xmlRpcTlsCertificate, keyFile: config.xmlRpcTlsPrivateKey } }
      : {}),
  }
}

/** what the XML thread translates and checks requests by, as the call manager does */
function admissionOf(config: Config, overrides: ServerOverrides): AdmissionData {
  return { rules: config.translationRules, allowUriHeaders: config.allowUriHeaders, maxCalls: overrides.maxCalls ?? config.maxCalls }
}

function flowSettings(config: Config, overrides: ServerOverrides) {
  return {
    identity: config.clickToCallIdentity,
    initiatorRingTimeoutMs: config.initiatorRingTimeout * 1000,
    destinationRingTimeoutMs: config.destinationRingTimeout * 1000,
    referNotifyTimeoutMs: config.referNotifyTimeout * 1000,
    referByeGraceMs: overrides.referByeGraceMs ?? 3000,
    initiatorHeaders: headerMap(config.initiatorHeaders),
    resultCacheTimeMs: config.resultCacheTime * 1000,
  }
}

export async function startServer(
  config: Config,
  logger: Logger,
  overrides: ServerOverrides = {},
): Promise<RunningServer> {
  // the whole configuration is checked before any socket opens (the same check as --check-config and SIGHUP)
  const { translator, warnings } = validateConfig(config)
  for (const w of warnings) logger.warn(w)
  const systemDns = dns.getServers()
  if (config.dnsServers.length > 0) {
    try {
      dns.setServers(config.dnsServers)
    } catch (err) {
      throw new ConfigError(`DNSServers: ${(err as Error).message}`, config.file)
    }
  }
  const opened: Array<{ close(): Promise<void> }> = []
  try {
    const tls = sipTlsOptions(config)
    if (!tls) logger.info({ module: 'sip' }, 'SIP over TLS is off (no TLSCertificate/TLSPrivateKey configured)')
    const sip = await createSipStack({
      address: config.ipAddress,
      port: config.udpTcpPort,
      ...(overrides.advertisedHost !== undefined ? { advertisedHost: overrides.advertisedHost } : {}),
      ...(tls ? { tls } : {}),
      ...(config.outboundProxy ? { outboundProxy: config.outboundProxy } : {}),
      keepAlives: config.keepAlives,
      userAgent: 'ClickToCall',
      ...(credentials(config) ? { credentials: credentials(config)! } : {}),
      ...(overrides.sipTimers ? { timers: overrides.sipTimers } : {}),
      ...sipConnectionOptions(config),
      logger,
    })
    opened.push(sip)
    const calls = new CallManager({
      ...flowSettings(config, overrides),
      sip,
      translate: translatorFn(translator),
      maxCalls: overrides.maxCalls ?? config.maxCalls,
      allowUriHeaders: config.allowUriHeaders,
      logger,
    })
    const outputs = startEventOutputs(config, calls, logger, overrides.events)
    opened.push({ close: () => outputs.close(0) })
    // the front-ends answer GET /v1/cdr from the first request: wait (bounded) for the database to be open
    if (outputs.cdr) {
      let bound: NodeJS.Timeout | undefined
      await Promise.race([outputs.cdr.ready(), new Promise<void>((resolve) => (bound = setTimeout(resolve, 5000)))])
      clearTimeout(bound)
    }
    // XmlRpcPort/HttpPort 0 disable the front-end, as in the original
    const listenPort = (p: number): number => (overrides.ephemeralPorts ? 0 : p)
    let xml: XmlThreadFrontEnd | undefined
    if (config.xmlRpcPort !== 0) {
      const xmlOptions = {
        calls,
        port: listenPort(config.xmlRpcPort),
        host: config.xmlRpcBindAddress,
        ...xmlSettingsOf(config),
        logger,
      }
      xml = config.xmlRpcThread
        ? await createXmlFrontEndThread({ ...xmlOptions, admission: admissionOf(config, overrides), liveCalls: () => calls.liveCount, nice: config.xmlRpcThreadNice })
        : await createXmlFrontEnd(xmlOptions)
      opened.push(xml)
    }
    let http: HttpFrontEnd | undefined
    if (config.httpPort !== 0) {
      http = await createHttpFrontEnd({
        calls,
        cdr: outputs.cdr,
        port: listenPort(config.httpPort),
        host: config.httpBindAddress,
        ...httpSettingsOf(config),
        ...(overrides.nonceTtlMs ? { nonceTtlMs: overrides.nonceTtlMs } : {}),
        ...(overrides.maxAuthFailures ? { maxAuthFailures: overrides.maxAuthFailures } : {}),
        ...(overrides.httpTimers ?? {}),
        version,
        logger,
      })
      opened.push(http)
    }
    const jsonrpc = config.jsonRpcPort !== 0 ? await startJsonRpc(config, listenPort(config.jsonRpcPort), calls, logger, overrides) : undefined
    if (jsonrpc) opened.push(jsonrpc)
    logger.info(
      {
        sipPort: sip.port,
        tlsPort: sip.tlsPort,
        xmlRpcPort: xml?.port,
        httpPort: http?.port,
        jsonRpcPort: jsonrpc?.port,
        rules: config.translationRules.length,
        version,
      },
      'ready',
    )
    let closing: Promise<void> | undefined
    let running = config
    return {
      sip,
      calls,
      xml,
      http,
      jsonrpc,
      outputs,
      reload(file: Config): ReloadPlan {
        const t = validateConfig(file, { reload: true }).translator
        const plan = planReload(running, file, { httpLive: http !== undefined })
        const next = plan.effective
        for (const name of plan.restart) logger.warn({ setting: name }, `${name} changed: restart to apply`)
        if (next.dnsServers.join() !== running.dnsServers.join()) dns.setServers(next.dnsServers.length > 0 ? next.dnsServers : systemDns)
        // the XML port first: re-reading its TLS files is the one step that can still fail
        xml?.reconfigure(xmlSettingsOf(next), admissionOf(next, overrides), next.xmlRpcThreadNice)
        // SIP connection limits, outbound TLS trust, the SIP TLS files (read first: a failure changes nothing there)
        for (const name of sip.reconfigure(sipReloadOptions(next))) {
          if (!plan.restart.includes(name)) logger.warn({ setting: name }, `${name} changed: restart to apply`)
        }
        calls.reconfigure({
          ...flowSettings(next, overrides),
          translate: translatorFn(t),
          maxCalls: overrides.maxCalls ?? next.maxCalls,
          allowUriHeaders: next.allowUriHeaders,
        })
        http?.reconfigure(httpSettingsOf(next))
        jsonrpc?.reconfigure(jsonRpcLive(next, overrides))
        running = next
        logger.info({ rules: next.translationRules.length, applied: plan.applied, restartNeeded: plan.restart }, 'configuration reloaded')
        return plan
      },
      close(timeoutMs = 5000): Promise<void> {
        closing ??= (async () => {
          logger.info({ calls: calls.liveCount }, 'shutting down')
          // listeners close at once; open XML connections still get the final results
          xml?.stopAccepting()
          await http?.close()
          await calls.close(timeoutMs)
          await jsonrpc?.close()
          await outputs.close(Math.min(2000, timeoutMs))
          await xml?.close()
          await sip.close()
          logger.info('stopped')
        })()
        return closing
      },
    }
  } catch (err) {
    await Promise.allSettled(opened.map((o) => o.close()))
    throw err
  }
}

function jsonRpcLive(config: Config, overrides: ServerOverrides): JsonRpcLiveSettings {
  return {
    allow: config.jsonRpcAllow,
    token: config.jsonRpcToken,
    origins: config.jsonRpcOrigins,
    maxMessageSize: config.jsonRpcMaxMessageSize,
    maxConnections: config.jsonRpcMaxConnections,
    maxConnectionsPerAddress: config.jsonRpcMaxConnectionsPerAddress,
    rateLimit: config.jsonRpcRateLimit,
    maxCommandsPerConnection: config.jsonRpcMaxCommandsPerConnection,
    pingIntervalMs: overrides.jsonRpc?.pingIntervalMs ?? config.jsonRpcPingInterval * 1000,
  }
}

function startJsonRpc(config: Config, port: number, calls: CallManager, logger: Logger, overrides: ServerOverrides): Promise<JsonRpcFrontEnd> {
  return createJsonRpcFrontEnd({
    ...jsonRpcLive(config, overrides),
    calls,
    port,
    host: config.jsonRpcBindAddress,
    ...(overrides.jsonRpc?.maxBufferedBytes ? { maxBufferedBytes: overrides.jsonRpc.maxBufferedBytes } : {}),
    logger,
  })
}

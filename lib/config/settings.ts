/**
 * The table of settings: name in the file (case-insensitive), the Config
 * field, how to read the value. Adding a setting is one row here.
 */
import os from 'node:os'
import type { Config } from './types'
import * as v from './values'

type Field = Exclude<keyof Config, 'file' | 'translationRules' | 'initiatorHeaders'>

export interface Setting {
  name: string
  field: Field
  parse: (value: string) => Config[Field]
  /** one line for clicktocall.conf.example and --help */
  doc: string
  /** may be given on several lines: the values add up (a list) */
  repeat?: boolean
}

function s<F extends Field>(name: string, field: F, parse: (value: string) => Config[F], doc: string): Setting {
  return { name, field, parse: parse as (value: string) => Config[Field], doc }
}

function r<F extends Field>(name: string, field: F, parse: (value: string) => Config[F], doc: string): Setting {
  return { ...s(name, field, parse, doc), repeat: true }
}

export const SETTINGS: Setting[] = [
  s('IPAddress', 'ipAddress', v.address, 'local address for SIP; blank = all interfaces'),
  s('DNSServers', 'dnsServers', v.list, 'comma-separated DNS servers; blank = the system resolver'),
  s('ClickToCallIdentity', 'clickToCallIdentity', v.sipUri, 'SIP URI in the From of the server\'s calls'),
  s('UDPTCPPort', 'udpTcpPort', v.port, 'SIP port for UDP and TCP'),
  s('TLSPort', 'tlsPort', v.port, 'SIP port for TLS (used when TLSCertificate and TLSPrivateKey are set)'),
  s('TLSDomain', 'tlsDomain', v.text, 'TLS domain of this server'),
  s('TLSDomainName', 'tlsDomain', v.text, 'the original sample\'s spelling of TLSDomain'),
  s('KeepAlives', 'keepAlives', v.bool, 'CRLF keepalives on SIP connections'),
  s('OutboundProxy', 'outboundProxy', v.optionalSipUri, 'SIP URI of the next hop for new requests; blank = DNS'),
  s('LogLevel', 'logLevel', v.logLevel, 'NONE|CRIT|ERR|WARNING|INFO|DEBUG|STACK'),
  s('LogFilename', 'logFilename', v.text, 'log file; blank = standard output'),
  s('LogFileMaxLines', 'logFileMaxLines', v.count, 'lines before the log file is renamed .old (0 = never)'),
  s('XmlRpcPort', 'xmlRpcPort', v.port, 'XML-over-TCP port; 0 disables it'),
  s('HttpPort', 'httpPort', v.port, 'HTTP port; 0 disables it'),
  s('HttpAuth', 'httpAuth', v.bool, 'require a password on the HTTP interface (user admin)'),
  s('HttpAuthPwd', 'httpAuthPwd', v.text, 'the HTTP password of user admin'),
  s('TLSCertificate', 'tlsCertificate', v.text, 'PEM certificate file for SIP over TLS'),
  s('TLSPrivateKey', 'tlsPrivateKey', v.text, 'PEM private key file for SIP over TLS'),
  s('XmlRpcBindAddress', 'xmlRpcBindAddress', v.address, 'address the XML port listens on; blank = all interfaces'),
  s('XmlRpcAllow', 'xmlRpcAllow', v.cidrList, 'addresses/CIDRs allowed to connect to the XML port'),
  s('XmlRpcMaxRequestSize', 'xmlRpcMaxRequestSize', v.positive, 'largest XML request in bytes'),
  s('XmlRpcMaxConnections', 'xmlRpcMaxConnections', v.positive, 'most XML connections at once'),
  s('XmlRpcMaxCallsPerConnection', 'xmlRpcMaxCallsPerConnection', v.positive, 'most calls in progress per XML connection; more get 503'),
  s('XmlRpcRateLimit', 'xmlRpcRateLimit', v.count, 'most XML requests per minute from one address (0 = no limit); more get 429'),
  s('XmlRpcIdleTimeout', 'xmlRpcIdleTimeout', v.count, 'seconds before an idle XML connection with no call in progress is closed (0 = never)'),
  s('XmlRpcTLSCertificate', 'xmlRpcTlsCertificate', v.text, 'PEM certificate file: the XML port speaks TLS when set with XmlRpcTLSPrivateKey'),
  s('XmlRpcTLSPrivateKey', 'xmlRpcTlsPrivateKey', v.text, 'PEM private key file for TLS on the XML port'),
  s('XmlRpcThread', 'xmlRpcThread', v.bool, 'run the XML port on a thread of its own: the 100 does not wait for the SIP work of other calls'),
  s('XmlRpcThreadNice', 'xmlRpcThreadNice', v.nice, 'the XML thread\'s scheduling priority, -20..19 (Linux; below the process\'s needs CAP_SYS_NICE); blank = the process\'s'),
  s('HttpBindAddress', 'httpBindAddress', v.address, 'address the HTTP port listens on; blank = all interfaces'),
  s('HttpAuthBasic', 'httpAuthBasic', v.bool, 'also accept HTTP Basic (as the original\'s clients send)'),
  s('HttpDigestAlgorithms', 'httpDigestAlgorithms', v.digestAlgorithms, 'Digest algorithms offered, in order of preference'),
  s('HttpMaxConnections', 'httpMaxConnections', v.positive, 'most HTTP connections at once; more get 503 and are closed'),
  s('HttpMaxConnectionsPerAddress', 'httpMaxConnectionsPerAddress', v.positive, 'most HTTP connections at once from one address; more get 503 and are closed'),
  s('HttpRateLimit', 'httpRateLimit', v.count, 'most calls per minute placed over HTTP from one address (0 = no limit); more get 429'),
  s('HttpAllowedHosts', 'httpAllowedHosts', v.list, 'host names the HTTP port answers to besides its address and localhost (Host header; against DNS rebinding)'),
  s('HttpAllowedOrigins', 'httpAllowedOrigins', v.origins, 'web origins (https://crm.example.com) whose pages may call the HTTP port; other sites get 403'),
  s('HttpMaxBodySize', 'httpMaxBodySize', v.positive, 'largest JSON request body in bytes; more get 413'),
  s('HttpAllowIdentity', 'httpAllowIdentity', v.bool, 'a REST or sipXrest request may name the identity the server calls as (identity, agent)'),
  s('HttpCommandToken', 'httpCommandToken', v.text, 'token for /api/v1/exec/command (Authorization: Bearer or AuthToken=); blank = that URL is refused'),
  s('ResultCacheTime', 'resultCacheTime', v.count, 'seconds an ended call\'s results stay readable'),
  s('InitiatorRingTimeout', 'initiatorRingTimeout', v.positive, 'seconds the initiator may ring before CANCEL and 408'),
  s('DestinationRingTimeout', 'destinationRingTimeout', v.positive, 'seconds the destination may ring before CANCEL and 408'),
  s('ReferNotifyTimeout', 'referNotifyTimeout', v.positive, 'seconds to wait for the final NOTIFY of a REFER'),
  s('SipAuthUser', 'sipAuthUser', v.text, 'user name for SIP digest challenges (401/407)'),
  s('SipAuthPassword', 'sipAuthPassword', v.text, 'password for SIP digest challenges'),
  s('SipAuthRealm', 'sipAuthRealm', v.text, 'answer challenges of this realm only; blank = any'),
  s('MaxCalls', 'maxCalls', v.positive, 'most calls in progress at once; more get 503'),
  // --- front-end caps and address policy (issue 12) ---
  s('XmlRpcMaxConnectionsPerAddress', 'xmlRpcMaxConnectionsPerAddress', v.positive, 'most XML connections at once from one address (an IPv6 /64 counts as one); more are closed at once'),
  s('AllowUriHeaders', 'allowUriHeaders', v.bool, 'let translated addresses carry URI headers (?Route=...) and maddr; off = 400 Invalid URI format'),
  // --- SIP connection limits and TLS verification (issue 12) ---
  s('SipMaxConnections', 'sipMaxConnections', v.positive, 'most inbound SIP TCP/TLS connections at once (also at most half the open-file limit)'),
  s('SipMaxConnectionsPerAddress', 'sipMaxConnectionsPerAddress', v.positive, 'most inbound SIP TCP/TLS connections from one address (an IPv6 /64 counts as one)'),
  s('SipIdleConnectionTimeout', 'sipIdleConnectionTimeout', v.positive, 'seconds before an inbound SIP TCP/TLS connection with no dialog or transaction is closed'),
  s('TLSVerifyServer', 'tlsVerifyServer', v.bool, 'check the certificate and name of the peers of outbound SIP over TLS'),
  s('TLSCAFile', 'tlsCaFile', v.text, 'PEM CA certificates that outbound TLS peers must chain to; blank = the built-in public CAs'),
  r('WebhookUrl', 'webhookUrls', v.urlList, 'http(s) URL that gets a signed JSON POST per call event; one line per receiver'),
  s('WebhookSecret', 'webhookSecret', v.text, 'HMAC-SHA256 key of the X-Clicktocall-Signature header; blank = unsigned'),
  s('WebhookEvents', 'webhookEvents', v.list, 'comma-separated event types to send; blank = all but result and state'),
  s('WebhookTimeout', 'webhookTimeout', v.positive, 'seconds a receiver has to answer a notification before it is retried'),
  s('WebhookMaxAttempts', 'webhookMaxAttempts', v.positive, 'attempts per notification (exponential backoff with jitter, 1 s to 60 s) before it is dropped'),
  s('WebhookQueueSize', 'webhookQueueSize', v.positive, 'notifications queued per receiver (webhook or action URL); more are dropped and counted'),
  s('WebhookConcurrency', 'webhookConcurrency', v.positive, 'requests at once per receiver (events of one call always go one at a time, in order)'),
  r('ActionUrl', 'actionUrls', v.urlList, 'Auerswald-style GET per call event, e.g. http://crm/ev?event={event}&callId={callId}&number={number}'),
  s('CdrDatabase', 'cdrDatabase', v.text, 'SQLite file of call detail records (relative: to the working directory); blank = no records'),
  s('CdrRetentionDays', 'cdrRetentionDays', v.count, 'days call detail records are kept (purged daily); 0 = forever'),
  // JSON-RPC 2.0 over WebSocket (OpenSIPS call-api compatible)
  s('JsonRpcPort', 'jsonRpcPort', v.port, 'JSON-RPC over WebSocket port (path /call-api); 0 disables it'),
  s('JsonRpcBindAddress', 'jsonRpcBindAddress', v.address, 'address the JSON-RPC port listens on; blank = all interfaces (needs JsonRpcToken)'),
  s('JsonRpcAllow', 'jsonRpcAllow', v.cidrList, 'addresses/CIDRs allowed to connect to the JSON-RPC port'),
  s('JsonRpcToken', 'jsonRpcToken', v.text, 'bearer token clients must send (Authorization: Bearer or ?token=); required beyond loopback'),
  s('JsonRpcOrigins', 'jsonRpcOrigins', v.list, 'browser Origins allowed without a token; blank = browsers need the token'),
  s('JsonRpcMaxMessageSize', 'jsonRpcMaxMessageSize', v.positive, 'largest JSON-RPC message in bytes; larger closes the connection'),
  s('JsonRpcMaxConnections', 'jsonRpcMaxConnections', v.positive, 'most JSON-RPC connections at once'),
  s('JsonRpcMaxConnectionsPerAddress', 'jsonRpcMaxConnectionsPerAddress', v.positive, 'most JSON-RPC connections from one address'),
  s('JsonRpcRateLimit', 'jsonRpcRateLimit', v.count, 'most JSON-RPC commands per second on one connection (0 = no limit)'),
  s('JsonRpcMaxCommandsPerConnection', 'jsonRpcMaxCommandsPerConnection', v.positive, 'most JSON-RPC commands in progress (not yet Ended) on one connection'),
  s('JsonRpcPingInterval', 'jsonRpcPingInterval', v.count, 'seconds between WebSocket pings; a client silent for two is dropped (0 = no pings)'),
]

export const SETTINGS_BY_NAME = new Map(SETTINGS.map((x) => [x.name.toLowerCase(), x]))

export function defaultConfig(): Config {
  const host = os.hostname() || 'localhost'
  return {
    file: undefined,
    ipAddress: '',
    dnsServers: [],
    clickToCallIdentity: `sip:click2call@${host}`,
    udpTcpPort: 5072,
    tlsPort: 5073,
    tlsDomain: host,
    keepAlives: true,
    outboundProxy: '',
    logLevel: 'INFO',
    logFilename: 'clicktocall.log',
    logFileMaxLines: 50000,
    xmlRpcPort: 5094,
    httpPort: 5095,
    httpAuth: false,
    httpAuthPwd: 'admin',
    translationRules: [],
    tlsCertificate: '',
    tlsPrivateKey: '',
    xmlRpcBindAddress: '127.0.0.1',
    xmlRpcAllow: ['127.0.0.0/8', '::1/128'],
    xmlRpcMaxRequestSize: 65536,
    xmlRpcMaxConnections: 256,
    xmlRpcMaxCallsPerConnection: 32,
    xmlRpcRateLimit: 120,
    xmlRpcIdleTimeout: 600,
    xmlRpcTlsCertificate: '',
    xmlRpcTlsPrivateKey: '',
    xmlRpcThread: true,
    xmlRpcThreadNice: null,
    httpBindAddress: '127.0.0.1',
    httpAuthBasic: true,
    httpDigestAlgorithms: ['SHA-256', 'MD5'],
    httpMaxConnections: 256,
    httpMaxConnectionsPerAddress: 32,
    httpRateLimit: 120,
    httpAllowedHosts: [],
    httpAllowedOrigins: [],
    httpMaxBodySize: 65536,
    httpCommandToken: '',
    httpAllowIdentity: false,
    resultCacheTime: 60,
    initiatorRingTimeout: 30,
    destinationRingTimeout: 60,
    referNotifyTimeout: 90,
    initiatorHeaders: [],
    sipAuthUser: '',
    sipAuthPassword: '',
    sipAuthRealm: '',
    maxCalls: 1000,
    // --- front-end caps and address policy (issue 12) ---
    xmlRpcMaxConnectionsPerAddress: 32,
    allowUriHeaders: false,
    // --- SIP connection limits and TLS verification (issue 12) ---
    sipMaxConnections: 2048,
    sipMaxConnectionsPerAddress: 32,
    sipIdleConnectionTimeout: 20,
    tlsVerifyServer: true,
    tlsCaFile: '',
    webhookUrls: [],
    webhookSecret: '',
    webhookEvents: [],
    webhookTimeout: 5,
    webhookMaxAttempts: 10,
    webhookQueueSize: 10000,
    webhookConcurrency: 4,
    actionUrls: [],
    cdrDatabase: 'data/cdr.sqlite',
    cdrRetentionDays: 90,
    jsonRpcPort: 5059,
    jsonRpcBindAddress: '127.0.0.1',
    jsonRpcAllow: ['127.0.0.0/8', '::1/128'],
    jsonRpcToken: '',
    jsonRpcOrigins: [],
    jsonRpcMaxMessageSize: 16384,
    jsonRpcMaxConnections: 64,
    jsonRpcMaxConnectionsPerAddress: 16,
    jsonRpcRateLimit: 20,
    jsonRpcMaxCommandsPerConnection: 32,
    jsonRpcPingInterval: 30,
  }
}

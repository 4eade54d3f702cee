/** The settings clicktocall understands: the original's, then ours. */
export interface TranslationRule {
  pattern: string
  output: string
  file: string
  line: number
}

export interface Config {
  /** the file the settings came from, if any */
  file: string | undefined
  // --- the original's settings ---
  ipAddress: string
  dnsServers: string[]
  clickToCallIdentity: string
  udpTcpPort: number
  tlsPort: number
  tlsDomain: string
  keepAlives: boolean
  outboundProxy: string
  logLevel: string
  logFilename: string
  logFileMaxLines: number
  xmlRpcPort: number
  httpPort: number
  httpAuth: boolean
  httpAuthPwd: string
  translationRules: TranslationRule[]
  // --- ours ---
  tlsCertificate: string
  tlsPrivateKey: string
  xmlRpcBindAddress: string
  xmlRpcAllow: string[]
  xmlRpcMaxRequestSize: number
  xmlRpcMaxConnections: number
  xmlRpcMaxCallsPerConnection: number
  xmlRpcRateLimit: number
  xmlRpcIdleTimeout: number
  xmlRpcTlsCertificate: string
  xmlRpcTlsPrivateKey: string
  xmlRpcThread: boolean
  /** the XML thread's nice value (Linux, -20..19); null = as the process runs */
  xmlRpcThreadNice: number | null
  httpBindAddress: string
  httpAuthBasic: boolean
  httpDigestAlgorithms: Array<'SHA-256' | 'MD5'>
  httpMaxConnections: number
  httpMaxConnectionsPerAddress: number
  httpRateLimit: number
  httpAllowedHosts: string[]
  httpAllowedOrigins: string[]
  httpMaxBodySize: number
  httpCommandToken: string
  httpAllowIdentity: boolean
  resultCacheTime: number
  initiatorRingTimeout: number
  destinationRingTimeout: number
  referNotifyTimeout: number
  initiatorHeaders: { name: string; value: string }[]
  sipAuthUser: string
  sipAuthPassword: string
  sipAuthRealm: string
  maxCalls: number
  // --- call events out and call detail records (docs/events.md, docs/cdr.md) ---
  webhookUrls: string[]
  webhookSecret: string
  webhookEvents: string[]
  webhookTimeout: number
  webhookMaxAttempts: number
  webhookQueueSize: number
  webhookConcurrency: number
  actionUrls: string[]
  cdrDatabase: string
  cdrRetentionDays: number
  // --- front-end caps and address policy (issue 12) ---
  xmlRpcMaxConnectionsPerAddress: number
  allowUriHeaders: boolean
  // --- SIP connection limits and TLS verification (issue 12) ---
  sipMaxConnections: number
  sipMaxConnectionsPerAddress: number
  sipIdleConnectionTimeout: number
  tlsVerifyServer: boolean
  tlsCaFile: string
  // --- JSON-RPC 2.0 over WebSocket (OpenSIPS call-api compatible) ---
  jsonRpcPort: number
  jsonRpcBindAddress: string
  jsonRpcAllow: string[]
  jsonRpcToken: string
  jsonRpcOrigins: string[]
  jsonRpcMaxMessageSize: number
  jsonRpcMaxConnections: number
  jsonRpcMaxConnectionsPerAddress: number
  jsonRpcRateLimit: number
  jsonRpcMaxCommandsPerConnection: number
  jsonRpcPingInterval: number
}

export interface ConfigWarning {
  file: string
  line: number
  message: string
}

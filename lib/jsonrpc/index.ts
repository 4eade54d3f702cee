/** JSON-RPC 2.0 over WebSocket, compatible with OpenSIPS call-api clients, on the call layer. */
export { createJsonRpcFrontEnd, DEFAULT_PATH, type JsonRpcFrontEnd, type JsonRpcFrontEndOptions, type JsonRpcLiveSettings } from './listener'
export { RpcErrorCode } from './codec'
export { isLoopback } from './access'

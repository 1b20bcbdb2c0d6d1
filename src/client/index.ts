/**
 * `kkt-gateway/client`: the store side of the gateway's MQTT contract. See README "Store client library".
 * Run-time dependencies: `mqtt` and Node's built-ins only (test/client/packaging.test.ts checks it).
 */
export { connectClient, KktClientError } from './client.ts';
export type { ConnectClientOptions, SubmitOptions, CommandOptions, RetryOptions, KktClient, ClientErrorCode } from './client.ts';
export type {
  ReceiptRequest,
  ReceiptBody,
  ReceiptItem,
  VatName,
  Operation,
  ReceiptResultJson,
  FinalResult,
  DonePayload,
  GatewayErrorJson,
  ErrorType,
  CommandResponse,
  CommandName,
} from './types.ts';

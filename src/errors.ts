/**
 * The one catalogue of error codes the gateway publishes (contract: `error.code`, `error.type`, `error.retryable`).
 * Validation codes are added by src/fiscal; device codes come from the driver (drivers/shtrih/errors.ts).
 */

export type ErrorType = 'validation' | 'device' | 'system';

export interface GatewayErrorJson {
  code: string;
  text: string;
  type: ErrorType;
  retryable: boolean;
  device_code?: number;
  /** for validation errors: the JSON path of the offending field, e.g. "receipt.items[1].sum" */
  field?: string;
}

export class GatewayError extends Error {
  constructor(
    readonly code: string,
    readonly type: ErrorType,
    message: string,
    readonly retryable = false,
    readonly field?: string,
    readonly deviceCode?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  toJSON(): GatewayErrorJson {
    const out: GatewayErrorJson = { code: this.code, text: this.message, type: this.type, retryable: this.retryable };
    if (this.field !== undefined) out.field = this.field;
    if (this.deviceCode !== undefined) out.device_code = this.deviceCode;
    return out;
  }
}

export function validationError(code: string, message: string, field?: string): GatewayError {
  return new GatewayError(code, 'validation', message, false, field);
}

/** System-level codes used outside validation. */
export const SystemCodes = {
  QUEUE_FULL: 'QUEUE_FULL',
  DUPLICATE_MISMATCH: 'DUPLICATE_MISMATCH',
  STORAGE: 'STORAGE',
  BAD_JSON: 'BAD_JSON',
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  NOT_FOUND: 'NOT_FOUND',
} as const;
